"""ways in: the passkey offer as state on the customer, fresh proof on the SSO session

``customer.passkey_offered_at`` replaces reading the ``passkey_offered`` audit event (the
offer came back once the audit trail was purged); existing offers are carried over.
``sso_session.proved_at`` (epoch seconds) is when a credential was last proved in that
session: Mon compte asks for a fresh proof before adding a way in.

Revision ID: a7c3e9f15b42
Revises: d41c0a7e5b21
Create Date: 2026-12-06 23:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a7c3e9f15b42'
down_revision = 'd41c0a7e5b21'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('passkey_offered_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('sso_session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('proved_at', sa.Integer(), nullable=True))
    op.execute(
        "UPDATE customer SET passkey_offered_at = (SELECT min(a.created_at) FROM audit_event a "
        "WHERE a.customer_id = customer.id AND a.event = 'passkey_offered') "
        "WHERE passkey_offered_at IS NULL AND EXISTS (SELECT 1 FROM audit_event a "
        "WHERE a.customer_id = customer.id AND a.event = 'passkey_offered')"
    )


def downgrade():
    with op.batch_alter_table('sso_session', schema=None) as batch_op:
        batch_op.drop_column('proved_at')
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.drop_column('passkey_offered_at')
