"""staff accounts and roles, TOTP credentials and recovery codes, console search indexes

Revision ID: d41c0a7e5b21
Revises: b7d2e4f1a9c3
Create Date: 2026-12-10 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd41c0a7e5b21'
down_revision = 'b7d2e4f1a9c3'
branch_labels = None
depends_on = None

# Prefix searches (LIKE 'abc%') use these on PostgreSQL whatever the collation.
SEARCH = (
    ('ix_customer_search_identifier', 'identifier'),
    ('ix_customer_search_email', 'email_normalized'),
    ('ix_customer_search_family', 'lower(family_name)'),
    ('ix_customer_search_given', 'lower(given_name)'),
)


def upgrade():
    op.create_table('staff_member',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('super_admin', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=320), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('customer_id')
    )
    op.create_table('staff_realm',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('realm_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['realm_id'], ['realm.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_member.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('staff_id', 'realm_id')
    )
    op.create_index('ix_staff_realm_staff_id', 'staff_realm', ['staff_id'])
    op.create_index('ix_staff_realm_realm_id', 'staff_realm', ['realm_id'])
    op.create_table('totp_credential',
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('secret_encrypted', sa.String(length=255), nullable=False),
    sa.Column('last_step', sa.Integer(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(), nullable=True),
    sa.Column('last_used_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('customer_id')
    )
    op.create_table('recovery_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code_hash')
    )
    op.create_index('ix_recovery_code_customer_id', 'recovery_code', ['customer_id'])
    postgres = op.get_bind().dialect.name == 'postgresql'
    for name, expr in SEARCH:
        column = f'{expr} text_pattern_ops' if postgres else expr
        op.create_index(name, 'customer', ['realm_id', sa.text(column)])
    op.create_index('ix_customer_realm_activated', 'customer', ['realm_id', 'activated_at'])
    op.create_index('ix_audit_event_created', 'audit_event', ['created_at'])
    op.create_index('ix_audit_event_realm_created', 'audit_event', ['realm_id', 'created_at'])
    op.create_index('ix_token_client_created', 'token', ['client_pk', 'created_at'])


def downgrade():
    for name in ('ix_token_client_created', 'ix_audit_event_realm_created',
                 'ix_audit_event_created', 'ix_customer_realm_activated',
                 *(n for n, _ in SEARCH)):
        op.drop_index(name)
    op.drop_table('recovery_code')
    op.drop_table('totp_credential')
    op.drop_table('staff_realm')
    op.drop_table('staff_member')
