"""Retention purge: history by category and age; consent notes that may be cleared

Revision ID: 0017_retention
Revises: 0016_audit_subject_order
Create Date: 2026-11-28

``flask retention purge`` deletes history entries of one data category
older than a cutoff, batch by batch: ``(data_category, occurred_at)``
finds each batch in index order.

On PostgreSQL the consent ledger's trigger refuses every UPDATE and
DELETE. Evidence notes are personal data with a retention period, so the
trigger now lets exactly one update through: clearing ``note``, with every
other column unchanged. Anything else is refused as before.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0017_retention'
down_revision = '0016_audit_subject_order'
branch_labels = None
depends_on = None


def upgrade(engine_name):
    globals()["upgrade_%s" % engine_name]()


def downgrade(engine_name):
    globals()["downgrade_%s" % engine_name]()


def upgrade_():
    op.create_index("ix_history_entries_category_occurred", "history_entries",
                    ["data_category", "occurred_at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE OR REPLACE FUNCTION consent_events_append_only() RETURNS trigger AS $$
            BEGIN
                IF TG_OP = 'UPDATE' AND NEW.note IS NULL
                   AND (to_jsonb(NEW) - 'note') = (to_jsonb(OLD) - 'note') THEN
                    RETURN NEW;  -- the retention purge clears an evidence note, nothing else
                END IF;
                RAISE EXCEPTION 'consent_events is append-only (% refused)', TG_OP;
            END;
            $$ LANGUAGE plpgsql
        """)


def downgrade_():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE OR REPLACE FUNCTION consent_events_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'consent_events is append-only (% refused)', TG_OP;
            END;
            $$ LANGUAGE plpgsql
        """)
    op.drop_index("ix_history_entries_category_occurred", table_name="history_entries")


def upgrade_keys():
    pass


def downgrade_keys():
    pass
