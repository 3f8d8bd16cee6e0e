"""Audit entries by customer, newest first, from one index

Revision ID: 0016_audit_subject_order
Revises: 0015_identifiers_sealed
Create Date: 2026-11-28

"Who has accessed my data" and the staff screens list a customer's entries
newest first. With an index on ``subject_id`` alone PostgreSQL may prefer
the ``action`` index and filter every staff view in the trail by customer
(seen at 10,000,000 entries: 8 ms, growing with the trail). ``(subject_id,
id)`` answers ``WHERE subject_id = ? ORDER BY id DESC`` in index order and
replaces the old index, so writes keep the same number of indexes.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0016_audit_subject_order'
down_revision = '0015_identifiers_sealed'
branch_labels = None
depends_on = None


def upgrade(engine_name):
    globals()["upgrade_%s" % engine_name]()


def downgrade(engine_name):
    globals()["downgrade_%s" % engine_name]()


def upgrade_():
    op.create_index("ix_audit_entries_subject_newest", "audit_entries", ["subject_id", "id"])
    op.drop_index("ix_audit_entries_subject_id", table_name="audit_entries")


def downgrade_():
    op.create_index("ix_audit_entries_subject_id", "audit_entries", ["subject_id"])
    op.drop_index("ix_audit_entries_subject_newest", table_name="audit_entries")


def upgrade_keys():
    pass


def downgrade_keys():
    pass
