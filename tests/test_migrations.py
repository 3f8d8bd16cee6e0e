"""Migrations create exactly what the models describe, on every database."""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade

from consentmgr.actors import Actor
from consentmgr.audit.chain import entry_hash
from consentmgr.audit.models import GENESIS_HASH
from consentmgr.audit.services import record, verify_chain
from consentmgr.extensions import db
from consentmgr.sql import TZDateTime
from tests.fixtures.audit import sequence_audit


def test_autogenerate_finds_no_difference(db):
    differences = {}
    for bind_key, metadata in db.metadatas.items():
        own = set(metadata.tables)
        bind = db.session.get_bind(clause=next(iter(metadata.tables.values())))
        with bind.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    "include_object": lambda obj, name, type_, reflected, other:
                        type_ != "table" or name in own,
                },
            )
            differences[bind_key] = compare_metadata(context, metadata)
    assert differences == {key: [] for key in db.metadatas}


def test_key_store_has_its_own_version_table(db):
    tables = sa.inspect(db.engine).get_table_names()
    assert {"alembic_version", "alembic_version_keys", "data_keys", "customers"} <= set(tables)


def test_upgrading_keeps_an_existing_trail_verifiable(database_at):
    """A trail written before entries were sequenced after commit survives the upgrade intact."""
    with database_at("0011_jobs", "upgrade"):
        prev, rows = GENESIS_HASH, []
        for sequence in (1, 2, 3):
            values = {"sequence": sequence, "occurred_at": dt.datetime(
                2026, 1, 1, 12, sequence, tzinfo=dt.timezone.utc), "actor_type": "staff",
                "actor_id": "old-agent", "actor_role": "agent", "action": "customer.view",
                "outcome": "success", "subject_id": uuid.uuid4(), "fields": [],
                "reason_code": None, "justification": None, "request_id": None,
                "client_hash": None, "details": {}, "prev_hash": prev}
            values["hash"] = prev = entry_hash(values)
            rows.append(values)
        types = {"occurred_at": TZDateTime(), "subject_id": sa.Uuid(), "fields": sa.JSON(),
                 "details": sa.JSON()}
        entries = sa.table("audit_entries", *(sa.column(name, types.get(name))
                                              for name in rows[0]))
        head = sa.table("audit_head", sa.column("id"), sa.column("sequence"), sa.column("hash"))
        with db.engine.begin() as conn:
            conn.execute(entries.insert(), rows)
            conn.execute(head.update().values(sequence=3, hash=prev))
        upgrade()
        assert verify_chain().checked == 3
        entry = record("customer.view", actor=Actor("staff", "new-agent", "agent"))
        sequence_audit(db)
        assert (entry.id, entry.sequence, entry.prev_hash) == (4, 4, prev)
        assert verify_chain().checked == 4
