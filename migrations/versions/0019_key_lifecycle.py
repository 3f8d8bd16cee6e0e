"""Data-key rotation and blind-index reindex

Revision ID: 0019_key_lifecycle
Revises: 0018_consent_expiry
Create Date: 2026-11-28

Key store: ``data_key_rotations`` (runs of ``flask keys rotate-data``, so an
interrupted run resumes) and ``retired_master_keys``.

Main database: ``flask keys rotate-data`` re-encrypts consent-evidence notes
under the customer's new data key. On PostgreSQL the ledger's append-only
trigger let only one UPDATE through (clearing ``note``, 0017_retention); it
now allows an UPDATE that changes the ``note`` column and nothing else
(re-encrypting it, or clearing it), and still refuses every other UPDATE
and every DELETE.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019_key_lifecycle'
down_revision = '0018_consent_expiry'
branch_labels = None
depends_on = None

NOTE_ONLY_UPDATES = """
CREATE OR REPLACE FUNCTION consent_events_append_only() RETURNS trigger AS $$
BEGIN
    -- Only the encrypted note may change (re-encrypted under a new data key,
    -- or cleared); what was consented to, when and how, never does.
    IF TG_OP = 'UPDATE' AND (to_jsonb(NEW) - 'note') = (to_jsonb(OLD) - 'note') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'consent_events is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql
"""

# What 0017_retention left: only clearing the note passes.
NOTE_CLEARING_ONLY = """
CREATE OR REPLACE FUNCTION consent_events_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.note IS NULL
       AND (to_jsonb(NEW) - 'note') = (to_jsonb(OLD) - 'note') THEN
        RETURN NEW;  -- the retention purge clears an evidence note, nothing else
    END IF;
    RAISE EXCEPTION 'consent_events is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql
"""


def upgrade(engine_name):
    globals()["upgrade_%s" % engine_name]()


def downgrade(engine_name):
    globals()["downgrade_%s" % engine_name]()


def upgrade_():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(NOTE_ONLY_UPDATES)


def downgrade_():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(NOTE_CLEARING_ONLY)


def upgrade_keys():
    op.create_table('data_key_rotations',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_data_key_rotations'))
    )
    op.create_table('retired_master_keys',
    sa.Column('master_key_id', sa.String(length=32), nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('master_key_id', name=op.f('pk_retired_master_keys'))
    )


def downgrade_keys():
    op.drop_table('retired_master_keys')
    op.drop_table('data_key_rotations')
