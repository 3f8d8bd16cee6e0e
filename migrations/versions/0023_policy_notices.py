"""Notices before a material policy change

Revision ID: 0023_policy_notices
Revises: 0022_webhooks
Create Date: 2026-11-28

``policy_notices`` lists, by id, the customers handled for each policy
version's notice of a material change (mailed, or unreachable), so nobody
is told twice about one version, whatever reruns or restarts.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0023_policy_notices'
down_revision = '0022_webhooks'
branch_labels = None
depends_on = None


def upgrade(engine_name):
    globals()["upgrade_%s" % engine_name]()


def downgrade(engine_name):
    globals()["downgrade_%s" % engine_name]()


def upgrade_():
    op.create_table(
        'policy_notices',
        sa.Column('policy_version_id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Uuid(), nullable=False),
        sa.Column('mailed', sa.Boolean(), nullable=False),
        sa.Column('notified_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['policy_version_id'], ['policy_versions.id'],
                                name=op.f('fk_policy_notices_policy_version_id_policy_versions'),
                                ondelete='RESTRICT'),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'],
                                name=op.f('fk_policy_notices_customer_id_customers'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('policy_version_id', 'customer_id',
                                name=op.f('pk_policy_notices')),
    )
    with op.batch_alter_table('policy_notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policy_notices_customer_id'), ['customer_id'],
                              unique=False)


def downgrade_():
    with op.batch_alter_table('policy_notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policy_notices_customer_id'))
    op.drop_table('policy_notices')


def upgrade_keys():
    pass


def downgrade_keys():
    pass
