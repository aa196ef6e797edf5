"""privacy: deletion requests, emailed sign-in codes, known devices

Revision ID: e7a91c3d5f20
Revises: a7c3e9f15b42
Create Date: 2026-12-07 00:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e7a91c3d5f20'
down_revision = 'a7c3e9f15b42'
branch_labels = None
depends_on = None

COLUMNS = (
    ('deletion_requested_at', sa.DateTime()),
    ('deletion_refused_at', sa.DateTime()),
    ('deletion_refused_reason', sa.String(length=500)),
    ('deleted_at', sa.DateTime()),
    ('email_code_hash', sa.String(length=255)),
    ('email_code_expires_at', sa.DateTime()),
    ('email_code_sent_at', sa.DateTime()),
)


def upgrade():
    with op.batch_alter_table('customer') as batch:
        for name, kind in COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))
    op.create_table('known_device',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('realm_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('device_hash', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=120), nullable=False),
    sa.Column('first_seen', sa.DateTime(), nullable=False),
    sa.Column('last_seen', sa.DateTime(), nullable=False),
    sa.Column('last_mail_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['realm_id'], ['realm.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('customer_id', 'device_hash')
    )
    op.create_index('ix_known_device_customer_id', 'known_device', ['customer_id'])


def downgrade():
    op.drop_index('ix_known_device_customer_id', table_name='known_device')
    op.drop_table('known_device')
    with op.batch_alter_table('customer') as batch:
        for name, _kind in reversed(COLUMNS):
            batch.drop_column(name)
