"""initial access tokens (RFC 7591) and registration access tokens (RFC 7592)

Revision ID: b7d2e4f1a9c3
Revises: 67f64ee41279
Create Date: 2026-12-10 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7d2e4f1a9c3'
down_revision = '67f64ee41279'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('initial_access_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('realm_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('max_uses', sa.Integer(), nullable=False),
    sa.Column('uses', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['realm_id'], ['realm.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('initial_access_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_initial_access_token_realm_id'), ['realm_id'],
                              unique=False)
    op.create_table('client_registration',
    sa.Column('client_pk', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('initial_token_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['client_pk'], ['client.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('client_pk'),
    sa.UniqueConstraint('token_hash')
    )


def downgrade():
    op.drop_table('client_registration')
    with op.batch_alter_table('initial_access_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_initial_access_token_realm_id'))
    op.drop_table('initial_access_token')
