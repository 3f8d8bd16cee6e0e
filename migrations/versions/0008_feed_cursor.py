"""The highest change-feed cursor each API client has read (GDPR Art. 19)

Revision ID: 0008_feed_cursor
Revises: 0007_requests
Create Date: 2026-12-01

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_feed_cursor'
down_revision = '0007_requests'
branch_labels = None
depends_on = None


def upgrade(engine_name):
    globals()["upgrade_%s" % engine_name]()


def downgrade(engine_name):
    globals()["downgrade_%s" % engine_name]()


def upgrade_():
    with op.batch_alter_table('api_clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('feed_cursor', sa.BigInteger(), nullable=True))


def downgrade_():
    with op.batch_alter_table('api_clients', schema=None) as batch_op:
        batch_op.drop_column('feed_cursor')


def upgrade_keys():
    pass


def downgrade_keys():
    pass
