"""No personal data at rest or in logs: markers never reach the database or the log."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from pathlib import Path

import sqlalchemy as sa

from consentmgr.audit.models import AuditEntry
from consentmgr.breaches import services as breaches
from consentmgr.breaches.models import Breach
from consentmgr.customers import email_change, services
from consentmgr.customers.signin import portal_actor
from consentmgr.sql import utcnow
from tests.conftest import TEST_ACTOR
from tests.fixtures.audit import sequence_audit


def _markers() -> dict[str, str]:
    tag = uuid.uuid4().hex[:10]
    return {
        "email": f"mrk{tag}email@example.org",
        "name": f"MRK{tag}NAME",
        "phone": f"+44 {int(tag, 16) % 10**10:010d}",
        "postal_address": f"MRK{tag}STREET 1",
        "topic": f"mrk{tag}topic",
        "summary": f"MRK{tag}SUMMARY",
        "detail": f"MRK{tag}DETAIL",
        "new_email": f"mrk{tag}new@example.org",  # a pending portal email change
    }


def _store_marked_customer(db) -> dict[str, str]:
    m = _markers()
    customer = services.create_customer({
        "email": m["email"], "name": m["name"], "phone": m["phone"],
        "postal_address": m["postal_address"], "date_of_birth": "1971-07-19",
        "preferences": {"channels": ["sms"], "language": "de", "topics": [m["topic"]]},
    }, actor=TEST_ACTOR)
    services.add_history(customer, {
        "occurred_at": "2026-06-01T12:00:00+00:00", "channel": "chat", "kind": "complaint",
        "data_category": "support", "summary": m["summary"], "details": {"note": m["detail"]},
    }, actor=TEST_ACTOR)
    services.rectify_customer(customer, {"name": m["name"] + "X"}, actor=TEST_ACTOR)
    email_change.request_email_change(customer, m["new_email"], actor=portal_actor(customer))
    db.session.commit()
    return m


def _needles(m: dict[str, str]) -> list[bytes]:
    values = list(m.values()) + ["1971-07-19"]
    needles = []
    for value in values:
        needles += [value.encode(), value.lower().encode(), value.encode("utf-16-le")]
    return needles


def _rows_holding(db, values) -> list[tuple[str, str]]:
    """(table, value) for each of ``values`` found in any row, read with raw SQL."""
    found = []
    for metadata in db.metadatas.values():
        for table in metadata.sorted_tables:
            with db.session.get_bind(clause=table).connect() as conn:
                for row in conn.execute(sa.select(table)):
                    text = repr(tuple(row)).lower()
                    blob = b"".join(v if isinstance(v, bytes) else str(v).encode() for v in row)
                    found += [(table.name, value) for value in values
                              if value.lower() in text or value.encode() in blob]
    return found


def test_no_marker_in_any_row_read_with_raw_sql(db):
    m = _store_marked_customer(db)
    assert _rows_holding(db, list(m.values()) + ["1971-07-19"]) == []
    # The check can fail: the values are there, decrypted, through the model.
    assert services.find_by_email(m["email"]).name == m["name"] + "X"
    pending = db.session.scalar(sa.select(email_change.PortalEmailChange))
    assert pending.new_email == m["new_email"]


def _sqlite_file_bytes(db) -> bytes:
    """The database file and its write-ahead log, as they are on disk."""
    db.session.remove()
    db.engine.dispose()
    path = Path(db.engine.url.database)
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def _postgresql_file_bytes(db) -> bytes:
    """Every table, TOAST table and index file of the schema, as the server stores them.

    ``CHECKPOINT`` first writes every changed page to those files; the test
    role is a superuser, which reading server files needs.
    """
    db.session.commit()
    with db.engine.connect() as conn:
        conn.execute(sa.text("CHECKPOINT"))
        paths = conn.scalars(sa.text(
            "SELECT pg_relation_filepath(c.oid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'i') "
            "UNION SELECT pg_relation_filepath(c.reltoastrelid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.reltoastrelid <> 0")).all()
        return b"".join(conn.scalar(sa.text("SELECT pg_read_binary_file(:path)"), {"path": path})
                        for path in paths if path)


def test_no_marker_in_the_database_files(db):
    m = _store_marked_customer(db)
    sequence_audit(db)  # as the worker does within a second (PostgreSQL)
    # Stored as plain text: finding it shows the scan sees what this test wrote.
    last_hash = db.session.scalar(sa.select(AuditEntry.hash).order_by(AuditEntry.sequence.desc())
                                  .where(AuditEntry.sequence.is_not(None)).limit(1))
    if db.engine.dialect.name == "sqlite":
        data = _sqlite_file_bytes(db)
    else:
        data = _postgresql_file_bytes(db)
    assert last_hash.encode() in data
    assert [n for n in _needles(m) if n in data] == []


def test_no_marker_in_the_logs(app, db, caplog, client):
    caplog.set_level(logging.DEBUG)
    m = _store_marked_customer(db)
    customer = services.find_by_email(m["email"])
    customer.name  # decrypt
    try:
        services.create_customer({"email": m["email"], "name": m["name"]}, actor=TEST_ACTOR)
    except Exception as exc:  # the duplicate is refused
        logging.getLogger("test").exception("refused: %s", exc)
    db.session.rollback()
    client.get(f"/no-such-page/{m['email']}")
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert caplog.records, "the check must see log records to mean anything"
    assert [v for v in m.values() if v.lower() in logged.lower()] == []


def _store_through_the_api(client, db) -> dict[str, str]:
    """A customer created over the API with an external ref and an Idempotency-Key, replayed once.

    Returns the markers: the ref (also in the stored answer), the key, and
    the address and name sent.
    """
    from consentmgr.apiclients.services import create_client

    tag = uuid.uuid4().hex[:10]
    m = {"external_ref": f"CRM{tag}REF", "idempotency_key": f"idem-{tag}-KEY",
         "email": f"api{tag}@example.org", "name": f"API{tag}NAME"}
    _, key = create_client("crm", "customers:write customers:read", actor=TEST_ACTOR)
    db.session.commit()
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": m["idempotency_key"]}
    body = {"external_ref": m["external_ref"], "email": m["email"], "name": m["name"]}
    first = client.post("/api/v1/customers", json=body, headers=headers)
    again = client.post("/api/v1/customers", json=body, headers=headers)
    assert first.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    # The scans below can fail: the answer holds the ref, and the API gives it back.
    assert again.get_json()["external_ref"] == m["external_ref"]
    read = client.get(first.headers["Location"], headers={"Authorization": f"Bearer {key}"})
    assert read.get_json()["external_ref"] == m["external_ref"]
    return m


def test_no_external_ref_idempotency_key_or_answer_in_any_row_read_with_raw_sql(client, db):
    m = _store_through_the_api(client, db)
    assert _rows_holding(db, list(m.values())) == []


def test_no_external_ref_idempotency_key_or_answer_in_the_database_files(client, db):
    from consentmgr.apiclients.models import ExternalRef

    m = _store_through_the_api(client, db)
    # Stored in clear: finding it shows the scan sees the table this test wrote to.
    ref_index = db.session.scalar(sa.select(ExternalRef.ref_index))
    if db.engine.dialect.name == "sqlite":
        data = _sqlite_file_bytes(db)
    else:
        data = _postgresql_file_bytes(db)
    assert ref_index.encode() in data
    assert [n for n in _needles(m) if n in data] == []


def _store_marked_breach(db) -> dict[str, str]:
    """A breach register entry whose every free text is a marker, notified and decided."""
    tag = uuid.uuid4().hex[:10]
    m = {name: f"BRX{tag}{name.upper()}" for name in (
        "description", "data_categories", "consequences", "measures", "reference", "reason")}
    breach = breaches.record_breach({
        "discovered_at": utcnow() - dt.timedelta(hours=3), "approx_people": 12,
        **{name: m[name] for name in ("description", "data_categories", "consequences",
                                      "measures")}}, actor=TEST_ACTOR)
    breaches.record_authority_notification(breach, notified_at=utcnow(), reference=m["reference"],
                                           actor=TEST_ACTOR)
    breaches.decide_customer_notice(breach, required=True, reason=m["reason"], actor=TEST_ACTOR)
    db.session.commit()
    return m


def test_no_breach_register_text_in_any_row_read_with_raw_sql(db):
    m = _store_marked_breach(db)
    assert _rows_holding(db, list(m.values())) == []
    # The check can fail: the text is there, decrypted, through the model.
    assert db.session.scalar(sa.select(Breach)).description == m["description"]


def test_no_breach_register_text_in_the_database_files(db):
    m = _store_marked_breach(db)
    sequence_audit(db)
    # Stored in clear: finding it shows the scan sees the table this test wrote to.
    breach_id = db.session.scalar(sa.select(Breach.id))
    if db.engine.dialect.name == "sqlite":
        data = _sqlite_file_bytes(db)
    else:
        data = _postgresql_file_bytes(db)
    assert breach_id.hex.encode() in data or breach_id.bytes in data
    assert [n for n in _needles(m) if n in data] == []


def test_no_marker_in_the_dashboard_aggregates(db, publish_policy_files):
    """The dashboard's counts name purposes, types, reason codes and ids, never a person."""
    from consentmgr.actors import Actor
    from consentmgr.consent import ledger
    from consentmgr.consent.models import ConsentAction
    from consentmgr.dashboard import aggregates
    from consentmgr.dashboard.models import DailyAggregate
    from consentmgr.requests.register import file_request
    from consentmgr.staff.access import reveal_field

    publish_policy_files()
    m = _store_marked_customer(db)
    customer = services.find_by_email(m["email"])
    ledger.record_choice(customer, "personalisation", ConsentAction.GRANTED, actor=TEST_ACTOR,
                         channel="staff", evidence=ledger.Evidence(note=m["summary"]))
    file_request(customer, "rectification", actor=TEST_ACTOR, channel="staff", on_behalf=True,
                 notes=m["detail"], identity_check="Passport checked at the counter")
    reveal_field(customer, "name", actor=Actor("staff", "staff-1", role="agent"),
                 reason_code="customer-request", justification="Caller confirmed the spelling")
    sequence_audit(db)
    aggregates.refresh(db.session, now=utcnow())
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DailyAggregate)) >= 4
    assert _rows_holding(db, list(m.values()) + ["1971-07-19"]) == []


def test_no_webhook_secret_or_marker_in_any_row_or_the_logs(app, db, caplog):
    """A webhook's secret is ciphertext at rest; its deliveries hold ids, never personal data."""
    from consentmgr.apiclients.services import create_client
    from consentmgr.webhooks.delivery import DeliverySettings
    from consentmgr.webhooks.dispatcher import WebhookRun
    from consentmgr.webhooks.models import WebhookDelivery
    from consentmgr.webhooks.services import register_webhook, rotate_secret

    caplog.set_level(logging.DEBUG)
    client, _ = create_client("crm", ["webhooks:write", "events:read"], actor=TEST_ACTOR)
    issued = register_webhook(db.session, client.id, "http://127.0.0.1:9/hook",
                              ["customer.rectified"], scopes=["webhooks:write", "events:read"],
                              actor=TEST_ACTOR, allow_private=True)
    rotated = rotate_secret(db.session, issued.subscription, actor=TEST_ACTOR)
    db.session.commit()
    m = _store_marked_customer(db)  # rectified: one delivery, attempted (port 9: refused)
    sequence_audit(db)
    WebhookRun(db.session, DeliverySettings(allow_private=True, timeout=1.0)).run_once()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookDelivery)) == 1
    secrets = [issued.secret, rotated, issued.secret.removeprefix("whsec_"),
               rotated.removeprefix("whsec_")]
    assert _rows_holding(db, secrets + list(m.values()) + ["1971-07-19"]) == []
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert "webhook delivery id=" in logged  # the check sees the delivery's log line
    assert [s for s in secrets + list(m.values()) if s in logged] == []
