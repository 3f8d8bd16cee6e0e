"""Migration 0015: refs and idempotency records stored in clear before it are sealed by it."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from consentmgr.apiclients import external_refs, idempotency
from consentmgr.apiclients.auth import AuthenticatedClient
from consentmgr.apiclients.models import ExternalRef, IdempotencyRecord
from consentmgr.customers import services as customers
from consentmgr.extensions import db
from consentmgr.sql import TZDateTime
from tests.conftest import TEST_ACTOR

BEFORE = "0014_consent_notify"
UTC = dt.timezone.utc


@pytest.fixture
def old_database(database_at):
    """A database of its own (never the shared test one), migrated up to ``BEFORE``."""
    with database_at(BEFORE, "sealed") as app:
        yield app


def _old_rows(tag):
    """Customers and API client rows as revision 0014 stored them: refs and answers in clear."""
    kept = customers.create_customer({"email": f"k{tag}@example.org", "name": "Kept"},
                                     actor=TEST_ACTOR)
    erased = customers.create_customer({"email": f"e{tag}@example.org", "name": "Gone"},
                                       actor=TEST_ACTOR)
    db.session.commit()
    customers.erase_customer(erased, actor=TEST_ACTOR)
    db.session.commit()
    client_id = uuid.uuid4()
    now = dt.datetime.now(UTC)
    def table(name, *names, **types):
        return sa.table(name, *(sa.column(n) for n in names),
                        *(sa.column(n, t) for n, t in types.items()))

    ids = {"client_id": sa.Uuid(), "created_at": TZDateTime()}
    tables = {
        "api_clients": table("api_clients", "name", "key_prefix", "key_hash", "created_by",
                             id=sa.Uuid(), scopes=sa.JSON(), created_at=TZDateTime()),
        "api_external_refs": table("api_external_refs", "external_ref",
                                   customer_id=sa.Uuid(), **ids),
        "api_idempotency_keys": table("api_idempotency_keys", "key", "request_hash",
                                      "status_code", "response_body", "location", **ids),
    }
    kept_answer = json.dumps({"id": str(kept.id), "status": "active",
                              "external_ref": f"CRM{tag}KEPT"})
    with db.engine.begin() as conn:
        conn.execute(tables["api_clients"].insert().values(
            id=client_id, name="crm", key_prefix="cmk_old", key_hash=tag * 6 + "abcd",
            scopes=["customers:write"], created_at=now, created_by="system:test"))
        conn.execute(tables["api_external_refs"].insert(), [
            {"client_id": client_id, "external_ref": f"CRM{tag}KEPT", "customer_id": kept.id,
             "created_at": now},
            {"client_id": client_id, "external_ref": f"CRM{tag}GONE", "customer_id": erased.id,
             "created_at": now}])
        conn.execute(tables["api_idempotency_keys"].insert(), [
            {"client_id": client_id, "key": f"create-{tag}", "request_hash": "a" * 64,
             "status_code": 201, "response_body": kept_answer,
             "location": f"/api/v1/customers/{kept.id}", "created_at": now},
            {"client_id": client_id, "key": f"consent-{tag}", "request_hash": "b" * 64,
             "status_code": 201, "response_body": json.dumps({"customer_id": str(erased.id)}),
             "location": None, "created_at": now},
            {"client_id": client_id, "key": f"other-{tag}", "request_hash": "c" * 64,
             "status_code": 202, "response_body": "{}", "location": "/api/v1/elsewhere",
             "created_at": now}])
    caller = AuthenticatedClient(id=client_id, name="crm", key_prefix="cmk_old",
                                 scopes=frozenset({"customers:write"}))
    return caller, kept, erased, kept_answer


def _file_bytes() -> bytes:
    if db.engine.dialect.name == "sqlite":
        db.session.remove()
        db.engine.dispose()  # the last connection folds the write-ahead log into the file
        path = Path(db.engine.url.database)
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    with db.engine.connect() as conn:
        conn.execute(sa.text("CHECKPOINT"))
        paths = conn.scalars(sa.text(
            "SELECT pg_relation_filepath(c.oid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'i', 't')")).all()
        return b"".join(conn.scalar(sa.text("SELECT pg_read_binary_file(:p)"), {"p": p})
                        for p in paths if p)


def test_the_upgrade_seals_what_was_stored_in_clear_and_lookups_keep_working(old_database):
    tag = uuid.uuid4().hex[:10]
    caller, kept, erased, kept_answer = _old_rows(tag)
    assert f"CRM{tag}KEPT".encode() in _file_bytes()  # the scan sees the clear values
    db.session.remove()  # as under `flask db upgrade`: no other transaction holds the tables

    upgrade()

    assert external_refs.customer_by_external_ref(caller, f"CRM{tag}KEPT").id == kept.id
    assert external_refs.external_ref_of(caller, customers.get_customer(kept.id)) == f"CRM{tag}KEPT"
    # The erased customer's ref could not be sealed under a destroyed key: it is gone.
    assert external_refs.customer_by_external_ref(caller, f"CRM{tag}GONE") is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ExternalRef)) == 1
    # Replays: the same answer, a refusal for the erased customer, status and Location otherwise.
    assert idempotency.claim_idempotency_key(caller, f"create-{tag}", "a" * 64) == \
        idempotency.StoredResponse(201, kept_answer, f"/api/v1/customers/{kept.id}")
    with pytest.raises(idempotency.AnswerErased):
        idempotency.claim_idempotency_key(caller, f"consent-{tag}", "b" * 64)
    assert idempotency.claim_idempotency_key(caller, f"other-{tag}", "c" * 64) == \
        idempotency.StoredResponse(202, None, "/api/v1/elsewhere")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(IdempotencyRecord)) == 3
    db.session.rollback()

    data = _file_bytes()
    assert tag.encode() * 6 in data  # the client's key hash, still in clear: the scan works
    left = [needle for needle in (f"CRM{tag}KEPT", f"CRM{tag}GONE", f"create-{tag}",
                                  f"consent-{tag}", f"other-{tag}")
            if needle.encode() in data]
    assert left == []


def test_downgrading_gives_the_refs_back_in_clear(old_database):
    tag = uuid.uuid4().hex[:10]
    caller, kept, _, _ = _old_rows(tag)
    db.session.remove()
    upgrade()
    downgrade(revision=BEFORE)
    refs = sa.table("api_external_refs", sa.column("client_id", sa.Uuid()),
                    sa.column("external_ref"), sa.column("customer_id", sa.Uuid()))
    with db.engine.connect() as conn:
        rows = conn.execute(sa.select(refs.c.client_id, refs.c.external_ref,
                                      refs.c.customer_id)).all()
    assert [tuple(r) for r in rows] == [(caller.id, f"CRM{tag}KEPT", kept.id)]
