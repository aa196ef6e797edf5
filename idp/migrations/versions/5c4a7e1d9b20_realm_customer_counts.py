"""kept per-realm customer counts (triggers), lockout and outbox indexes for the dashboard

Revision ID: 5c4a7e1d9b20
Revises: e7a91c3d5f20
Create Date: 2026-12-07 00:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

# The trigger statements live with the model (create_all installs the same ones).
from idp.core import customer_counts


# revision identifiers, used by Alembic.
revision = '5c4a7e1d9b20'
down_revision = 'e7a91c3d5f20'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('realm_customer_count',
    sa.Column('realm_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('imported', sa.Integer(), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('disabled', sa.Integer(), nullable=False),
    sa.Column('locked', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['realm_id'], ['realm.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('realm_id')
    )
    # Partial: a customer never locked (every imported one) costs the index nothing.
    op.create_index('ix_customer_realm_locked_until', 'customer',
                    ['realm_id', 'locked_until'], unique=False,
                    postgresql_where=sa.text('locked_until IS NOT NULL'),
                    sqlite_where=sa.text('locked_until IS NOT NULL'))
    op.create_index('ix_outbox_realm_status', 'outbox_mail', ['realm_id', 'status'],
                    unique=False)
    customer_counts.install(op.get_bind())


def downgrade():
    bind = op.get_bind()
    drops = (customer_counts.POSTGRESQL_DROP if bind.dialect.name == 'postgresql'
             else customer_counts.SQLITE_DROP)
    for statement in drops:
        op.execute(statement)
    op.drop_index('ix_outbox_realm_status', table_name='outbox_mail')
    op.drop_index('ix_customer_realm_locked_until', table_name='customer')
    op.drop_table('realm_customer_count')
