"""Appending to the audit trail: linking, validation, hashed client addresses, concurrency."""

from __future__ import annotations

import threading
import uuid

import pytest
import sqlalchemy as sa

from consentmgr import create_app
from consentmgr.actors import Actor
from consentmgr.audit import actions
from consentmgr.audit.chain import entry_hash
from consentmgr.audit.models import GENESIS_HASH, AuditEntry, AuditHead
from consentmgr.audit.sequencer import _restore_head
from consentmgr.audit.services import (
    InvalidAuditEntry,
    entries_for_customer,
    hash_client_address,
    record,
    record_export,
    verify_chain,
)
from consentmgr.errors import ValidationFailed
from consentmgr.runtime import runtime
from tests.audit.helpers import AGENT
from tests.conftest import TEST_ACTOR, base_config
from tests.fixtures.audit import sequence_audit


def sequences(db) -> list[int]:
    return list(db.session.scalars(sa.select(AuditEntry.sequence).order_by(AuditEntry.sequence)))


def test_first_entry_is_sequence_one_and_links_to_the_genesis_hash(db):
    entry = record(actions.CUSTOMER_VIEW, actor=AGENT, subject_id=uuid.uuid4())
    sequence_audit(db)
    assert (entry.sequence, entry.prev_hash) == (1, GENESIS_HASH)


def test_each_entry_links_to_the_one_before(db, record_entries):
    first, second, third = record_entries(3)
    assert (second.prev_hash, third.prev_hash) == (first.hash, second.hash)
    assert [first.sequence, second.sequence, third.sequence] == [1, 2, 3]


def test_record_stores_actor_ids_and_role_but_not_the_display_name(db):
    entry = record(actions.CUSTOMER_VIEW, actor=AGENT)
    db.session.commit()
    row = db.session.execute(sa.select(AuditEntry.__table__)).one()._mapping
    assert (row["actor_type"], row["actor_id"], row["actor_role"]) == ("staff", AGENT.id, "agent")
    assert AGENT.display_name not in repr(dict(row))
    assert entry.actor == f"staff:{AGENT.id}"


def test_record_never_commits_so_a_rollback_removes_the_entry_and_its_sequence(db, record_entries):
    record_entries(2)
    record(actions.CUSTOMER_VIEW, actor=AGENT)
    db.session.rollback()
    entry = record(actions.CUSTOMER_VIEW, actor=AGENT)
    sequence_audit(db)
    assert entry.sequence == 3
    assert sequences(db) == [1, 2, 3]


def test_hash_survives_the_database_round_trip(db):
    written = record(actions.CUSTOMER_REVEAL, actor=AGENT, subject_id=uuid.uuid4(),
                     fields=["phone", "email"], reason_code="support-ticket",
                     justification="Ticket 4711, caller confirmed identity\nsecond line",
                     request_id="req-42", client_address="203.0.113.7",
                     details={"ticket": "4711", "attempt": 2, "masked": False, "note": None})
    sequence_audit(db)
    expected = written.hash
    db.session.expunge_all()
    row = db.session.execute(sa.select(AuditEntry.__table__)).one()._mapping
    assert entry_hash(row) == expected
    assert verify_chain().ok


def test_client_address_is_stored_only_as_a_keyed_hash(db):
    entry = record(actions.STAFF_SIGN_IN, actor=AGENT, client_address="203.0.113.7")
    assert entry.client_hash == hash_client_address("203.0.113.7")
    assert entry.client_hash.startswith("idx1:") and "203.0.113.7" not in entry.client_hash


def test_equal_addresses_in_different_spellings_hash_alike(db):
    assert hash_client_address("2001:DB8::0:1") == hash_client_address(" 2001:db8::1 ")
    assert hash_client_address("203.0.113.7") != hash_client_address("203.0.113.8")


def test_client_hash_key_differs_from_the_email_index_key(app, db):
    email_index = runtime(app).indexer("email")
    assert hash_client_address("203.0.113.7") != email_index.compute("203.0.113.7")


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"action": "Customer View"}, "action"),
        ({"action": "customer..view"}, "action"),
        ({"outcome": "OK!"}, "outcome"),
        ({"actor": Actor("staff", "agnes@example.org", "agent")}, "actor"),
        ({"actor": Actor("staff", "x" * 65)}, "actor"),
        ({"actor": Actor("Staff Member", "1")}, "actor"),
        ({"actor": Actor("a" * 17, "1")}, "actor"),
        ({"actor": Actor("staff", "1", "x" * 33)}, "actor"),
        ({"subject_id": "not-a-uuid"}, "subject_id"),
        ({"fields": ["+44 20 7946 0958"]}, "fields"),
        ({"fields": ["email", "ada@example.org"]}, "fields"),
        ({"reason_code": "Because I wanted to"}, "reason_code"),
        ({"justification": "x" * 501}, "justification"),
        ({"justification": "tab\x00null"}, "justification"),
        ({"request_id": "req id with spaces"}, "request_id"),
        ({"details": {"email": "ada@example.org"}}, "details"),
        ({"details": {"Bad Key": "x"}}, "details"),
        ({"details": {"ratio": 0.5}}, "details"),
        ({"details": {"nested": {"a": 1}}}, "details"),
    ],
)
def test_malformed_or_personal_looking_input_is_refused_and_writes_nothing(db, overrides, field):
    values = {"action": actions.CUSTOMER_VIEW, "actor": AGENT, **overrides}
    with pytest.raises(InvalidAuditEntry) as caught:
        record(values.pop("action"), **values)
    assert field in caught.value.errors
    db.session.rollback()
    assert sequences(db) == []


def test_refused_entry_is_a_validation_error_with_a_message_per_field(db):
    with pytest.raises(ValidationFailed) as caught:
        record("BAD", actor=AGENT, reason_code="NO")
    assert set(caught.value.errors) == {"action", "reason_code"}


def test_justification_is_trimmed_and_blank_means_none(db):
    assert record(actions.CUSTOMER_REVEAL, actor=AGENT, justification="  Ticket 1  ").justification == "Ticket 1"
    assert record(actions.CUSTOMER_REVEAL, actor=AGENT, justification="   ").justification is None


def test_custom_action_names_are_accepted(db):
    assert record("request.export-downloaded", actor=AGENT).action == "request.export-downloaded"


def test_missing_head_row_is_rebuilt_from_the_last_entry(db, record_entries, tamper):
    entries = record_entries(2)
    tamper("DELETE FROM audit_head")
    entry = record(actions.CUSTOMER_VIEW, actor=AGENT)
    sequence_audit(db)
    assert (entry.sequence, entry.prev_hash) == (3, entries[-1].hash)
    assert verify_chain().ok


def test_head_row_follows_the_last_entry(db, record_entries):
    last = record_entries(3)[-1]
    head = db.session.get(AuditHead, 1)
    assert (head.sequence, head.hash) == (3, last.hash)


def test_restoring_the_head_leaves_an_existing_head_alone(db, record_entries):
    last = record_entries(2)[-1]
    _restore_head(db.session)  # ON CONFLICT DO NOTHING: the live head wins
    head = db.session.get(AuditHead, 1)
    assert (head.sequence, head.hash) == (2, last.hash)


def test_exporting_the_trail_is_itself_an_entry(db):
    entry = record_export(AGENT, filtered=True, client_address="203.0.113.7", request_id="req-1")
    db.session.commit()
    assert (entry.action, entry.actor_id, entry.outcome) == (actions.AUDIT_EXPORTED, AGENT.id,
                                                            actions.SUCCESS)
    assert entry.details == {"filtered": True}
    assert (entry.request_id, entry.client_hash) == ("req-1", hash_client_address("203.0.113.7"))
    assert record_export(AGENT, filtered=False).details == {"filtered": False}


def test_customer_services_audit_create_rectify_and_history(db, create_customer):
    from consentmgr.customers import services

    customer = create_customer()
    services.rectify_customer(customer, {"phone": "+44 20 7946 0000", "name": customer.name},
                              actor=TEST_ACTOR)
    services.add_history(customer, {"occurred_at": "2026-06-01T12:00:00+00:00", "channel": "chat",
                                    "kind": "complaint", "data_category": "support",
                                    "summary": "s"}, actor=TEST_ACTOR)
    db.session.commit()
    found = [(e.action, e.fields, e.actor_id) for e in reversed(entries_for_customer(customer.id))]
    assert found[0][0] == "customer.created" and "email" in found[0][1]
    assert found[1:] == [("customer.rectified", ["phone"], "test"),
                         ("customer.history-added", [], "test")]


def test_rectification_that_changes_nothing_is_not_audited(db, create_customer):
    from consentmgr.customers import services

    customer = create_customer()
    services.rectify_customer(customer, {"name": customer.name}, actor=TEST_ACTOR)
    assert [e.action for e in entries_for_customer(customer.id)] == ["customer.created"]


def test_concurrent_writers_never_fork_the_chain_or_skip_a_sequence(app, db, database_url, tmp_path):
    """16 writers, each in its own thread, session and connection, append at once.

    Every third transaction rolls back: it must leave no entry, and on
    SQLite its claimed sequence number must be reused, not lost. Afterwards
    (and after the sequencer ran, on PostgreSQL) the numbers run 1..N, they
    belong to exactly the committed entries, and the chain verifies.
    """
    writers, transactions, per_transaction = 16, 4, 2
    # A pool with a connection per writer, so all of them really are concurrent.
    concurrent = create_app(base_config(database_url, str(tmp_path), SQLALCHEMY_ENGINE_OPTIONS={
        "pool_size": writers + 1, "max_overflow": 0, "hide_parameters": True,
        **({"connect_args": {"timeout": 60}} if database_url.startswith("sqlite") else {}),
    }))
    from consentmgr.extensions import db as concurrent_db

    start = threading.Barrier(writers)
    errors: list[BaseException] = []
    committed: list[int] = []
    lock = threading.Lock()

    def write(number: int) -> None:
        actor = Actor("staff", f"writer-{number}", "agent")
        try:
            with concurrent.app_context():
                start.wait(timeout=60)
                for transaction in range(transactions):
                    entries = [record(actions.CUSTOMER_VIEW, actor=actor, subject_id=uuid.uuid4())
                               for _ in range(per_transaction)]
                    if transaction % 3 == 2:
                        concurrent_db.session.rollback()
                        continue
                    concurrent_db.session.commit()
                    with lock:
                        committed.extend(e.id for e in entries)
                concurrent_db.session.remove()
        except BaseException as exc:  # reported below, with the thread's number
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    with concurrent.app_context():
        concurrent_db.engine.dispose()

    assert errors == []
    expected = writers * (transactions - 1) * per_transaction
    sequence_audit(db)
    assert len(set(committed)) == expected
    assert set(db.session.scalars(sa.select(AuditEntry.id))) == set(committed)
    assert sequences(db) == list(range(1, expected + 1))
    result = verify_chain()
    assert result.ok and result.checked == expected, result.summary()
    per_writer = db.session.execute(
        sa.select(AuditEntry.actor_id, sa.func.count()).group_by(AuditEntry.actor_id)
    ).all()
    assert sorted(count for _, count in per_writer) == [expected // writers] * writers
