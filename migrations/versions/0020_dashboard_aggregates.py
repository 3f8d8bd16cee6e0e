"""Daily aggregates for the DPO dashboard

Revision ID: 0020_dashboard_aggregates
Revises: 0019_key_lifecycle
Create Date: 2026-11-28

The DPO dashboard reads daily counts (``dashboard_aggregates``), which the
worker adds to incrementally from the audit trail; ``dashboard_watermark``
holds the last audit sequence number counted (one row).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0020_dashboard_aggregates'
down_revision = '0019_key_lifecycle'
branch_labels = None
depends_on = None


def upgrade(engine_name):
    globals()["upgrade_%s" % engine_name]()


def downgrade(engine_name):
    globals()["downgrade_%s" % engine_name]()


def upgrade_():
    op.create_table(
        'dashboard_aggregates',
        sa.Column('metric', sa.String(length=48), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('dimension', sa.String(length=80), nullable=False),
        sa.Column('week', sa.Date(), nullable=False),
        sa.Column('value', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('metric', 'day', 'dimension'),
    )
    op.create_index('ix_dashboard_aggregates_metric_week', 'dashboard_aggregates',
                    ['metric', 'week', 'dimension', 'value'])
    op.create_table(
        'dashboard_watermark',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('audit_sequence', sa.BigInteger(), nullable=False),
        sa.Column('refreshed_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint('id = 1', name='dashboard_watermark_single_row'),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade_():
    op.drop_table('dashboard_watermark')
    op.drop_index('ix_dashboard_aggregates_metric_week', table_name='dashboard_aggregates')
    op.drop_table('dashboard_aggregates')


def upgrade_keys():
    pass


def downgrade_keys():
    pass
