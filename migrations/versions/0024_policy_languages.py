"""Policy documents per language

Revision ID: 0024_policy_languages
Revises: 0023_policy_notices
Create Date: 2026-11-28

PLACEHOLDER: the policies helper fills this in (tables/columns for one
document per language of a policy version, and the language of the notice
a consent event was given under).
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

# revision identifiers, used by Alembic.
revision = '0024_policy_languages'
down_revision = '0023_policy_notices'
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
