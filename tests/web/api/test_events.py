"""The change feed: ordered, resumable, complete across concurrent writers, no personal data."""

from __future__ import annotations

import threading

from consentmgr.audit.leader import SequencerLoop
from tests.conftest import TEST_ACTOR
from tests.fixtures.audit import sequence_audit, wait_for_sequencing


def _feed(client, headers, after=0, limit=100):
    return client.get("/api/v1/events", query_string={"after": after, "limit": limit},
                      headers=headers).get_json()


def _grant(customer, purpose="marketing-email", action="grant"):
    from consentmgr.consent import services

    getattr(services, f"{action}_consent")(customer, purpose, actor=TEST_ACTOR, channel="staff")


def test_the_feed_lists_consent_changes_oldest_first(client, db, bearer, policy, create_customer):
    customer = create_customer()
    _grant(customer)
    _grant(customer, action="withdraw")
    sequence_audit(db)
    page = _feed(client, bearer)
    assert [(e["type"], e["purpose"], e["status"]) for e in page["events"]] == [
        ("consent.granted", "marketing-email", "given"),
        ("consent.withdrawn", "marketing-email", "withdrawn")]
    cursors = [e["cursor"] for e in page["events"]]
    assert cursors == sorted(cursors) and page["next_cursor"] == cursors[-1]


def test_reading_after_a_cursor_continues_where_the_last_page_ended(client, db, bearer, policy,
                                                                    create_customer):
    customers = [create_customer() for _ in range(3)]
    for customer in customers:
        _grant(customer)
    sequence_audit(db)
    first = _feed(client, bearer, limit=2)
    rest = _feed(client, bearer, after=first["next_cursor"])
    assert [e["customer_id"] for e in first["events"] + rest["events"]] == [str(c.id) for c in customers]
    assert _feed(client, bearer, after=rest["next_cursor"]) == {
        "events": [], "next_cursor": rest["next_cursor"]}


def test_restrictions_and_erasures_are_in_the_feed(client, db, bearer, create_customer):
    from consentmgr.customers.services import erase_customer, restrict_processing

    customer = create_customer()
    restrict_processing(customer, actor=TEST_ACTOR)
    erase_customer(customer, actor=TEST_ACTOR)
    sequence_audit(db)
    assert [e["type"] for e in _feed(client, bearer)["events"]] == [
        "customer.restricted", "customer.erased"]


def test_the_feed_holds_no_personal_data(client, db, bearer, policy, create_customer):
    customer = create_customer(name="Unmistakable Name")
    _grant(customer)
    db.session.commit()
    response = client.get("/api/v1/events", headers=bearer)
    assert customer.email.encode() not in response.data
    assert b"Unmistakable" not in response.data


def test_a_limit_outside_one_to_a_thousand_is_422(client, bearer):
    response = client.get("/api/v1/events?limit=1001", headers=bearer)
    assert response.status_code == 422


def test_concurrent_writers_never_make_a_reader_miss_a_change(app, client, db, bearer, policy,
                                                             create_customer):
    """Writers commit in parallel while a reader polls; the reader sees every change once, in order.

    The cursor is the audit sequence, given after commit by the one
    sequencer (running here as in the worker; inline on SQLite), so a change
    sequenced later always has a larger cursor than one already read (on
    PostgreSQL the writers really overlap; on SQLite they queue).
    """
    from consentmgr.customers.services import get_customer

    ids = [create_customer().id for _ in range(6)]
    per_writer = 5
    errors: list[BaseException] = []
    done = threading.Event()

    def writer(customer_id):
        try:
            with app.app_context():
                customer = get_customer(customer_id)
                for index in range(per_writer):
                    _grant(customer, action="grant" if index % 2 == 0 else "withdraw")
                    db.session.commit()
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    seen: list[dict] = []

    def reader():
        reader_client = app.test_client()
        cursor = 0
        while True:
            finished = done.is_set()
            page = reader_client.get("/api/v1/events", query_string={"after": cursor, "limit": 7},
                                     headers=bearer).get_json()
            seen.extend(page["events"])
            cursor = page["next_cursor"]
            if finished and not page["events"]:
                return

    threads = [threading.Thread(target=writer, args=(customer_id,)) for customer_id in ids]
    polling = threading.Thread(target=reader)
    sequencer = SequencerLoop(app, name="test")
    sequencing = sequencer.start()
    polling.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    wait_for_sequencing(db)
    done.set()
    polling.join(timeout=60)
    sequencer.stopping.set()
    if sequencing is not None:
        sequencing.join(timeout=10)

    assert errors == []
    cursors = [event["cursor"] for event in seen]
    assert cursors == sorted(set(cursors))
    assert len(seen) == len(ids) * per_writer
    for customer_id in ids:
        mine = [e["status"] for e in seen if e["customer_id"] == str(customer_id)]
        assert mine == ["given", "withdrawn", "given", "withdrawn", "given"]
