"""published privacy policy versions and purposes

Revision ID: 0002_policies
Revises: 0001_customers
Create Date: 2026-11-23

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002_policies'
down_revision = '0001_customers'
branch_labels = None
depends_on = None


def upgrade(engine_name):
    globals()["upgrade_%s" % engine_name]()


def downgrade(engine_name):
    globals()["downgrade_%s" % engine_name]()


def upgrade_():
    pass


def downgrade_():
    pass


def upgrade_keys():
    pass


def downgrade_keys():
    pass
