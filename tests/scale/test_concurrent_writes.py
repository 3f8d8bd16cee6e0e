"""64 writers at once on PostgreSQL: nothing lost, states right, feed and chain whole.

Each writer has its own thread, session and connection and grants or
withdraws consent on a small set of customers and purposes, so most
writes collide with others on the same state row, while the worker's
sequencer places the audit entries as they commit.
"""

from __future__ import annotations

import collections
import random
import threading

import sqlalchemy as sa

from consentmgr import create_app
from consentmgr.actors import Actor
from consentmgr.audit.leader import SequencerLoop
from consentmgr.audit.models import AuditEntry
from consentmgr.audit.services import verify_chain
from consentmgr.config import PROJECT_ROOT
from consentmgr.consent.models import ConsentAction, ConsentEvent, ConsentState
from consentmgr.consent.receipts import issue_receipt, verify_receipt
from consentmgr.consent.services import change_feed, choice_subject, record_choice
from consentmgr.policies.services import publish_policies
from tests.conftest import base_config, postgresql_only
from tests.fixtures.audit import wait_for_sequencing

WRITERS = 64
WRITES_EACH = 12
PURPOSES = ("marketing-email", "marketing-sms", "personalisation")
ACTIONS = (ConsentAction.GRANTED, ConsentAction.WITHDRAWN)


@postgresql_only
def test_64_concurrent_writers_lose_nothing_and_leave_one_consistent_history(
        app, db, database_url, tmp_path, create_customer):
    publish_policies(PROJECT_ROOT / "policies", actor=Actor("system", "test"))
    db.session.commit()
    customers = [create_customer().id for _ in range(6)]
    # Its own pool: a connection per writer, so all 64 really write at once.
    writers_app = create_app(base_config(database_url, str(tmp_path), SQLALCHEMY_ENGINE_OPTIONS={
        "pool_size": WRITERS + 2, "max_overflow": 0, "hide_parameters": True}))
    from consentmgr.extensions import db as writers_db

    sequencer = SequencerLoop(writers_app, name="test-sequencer", batch=50)
    sequencing = sequencer.start()
    start = threading.Barrier(WRITERS)
    written: list[tuple] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def write(number: int) -> None:
        chooser = random.Random(number)
        actor = Actor("api-client", f"writer-{number}")
        try:
            with writers_app.app_context():
                start.wait(timeout=60)
                for _ in range(WRITES_EACH):
                    customer = chooser.choice(customers)
                    purpose = chooser.choice(PURPOSES)
                    event = record_choice(choice_subject(customer), purpose,
                                          chooser.choice(ACTIONS), actor=actor, channel="api")
                    writers_db.session.commit()
                    with lock:
                        written.append((event.id, customer, purpose))
                writers_db.session.remove()
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=180)
        wait_for_sequencing(db)
    finally:
        sequencer.stopping.set()
        sequencing.join(timeout=10)
        with writers_app.app_context():
            writers_db.engine.dispose()

    assert errors == []
    total = WRITERS * WRITES_EACH
    assert len(written) == total

    # No lost event: every committed write is in the ledger, and nothing else is.
    events = {e.id: e for e in db.session.scalars(sa.select(ConsentEvent))}
    assert set(events) == {event_id for event_id, _, _ in written}

    # Each state is its pair's last event, by insertion id and by audit sequence alike.
    sequence_of = dict(db.session.execute(sa.select(AuditEntry.id, AuditEntry.sequence)).all())
    history = collections.defaultdict(list)
    for event in events.values():
        history[(event.customer_id, event.purpose)].append(event)
    states = {(s.customer_id, s.purpose): s for s in db.session.scalars(sa.select(ConsentState))}
    assert set(states) == set(history)
    for pair, pair_events in history.items():
        last = max(pair_events, key=lambda e: e.audit_entry_id)
        assert max(pair_events, key=lambda e: sequence_of[e.audit_entry_id]) is last
        assert (states[pair].event_id, states[pair].status) == (last.id, last.status)

    # Every receipt verifies.
    for event in events.values():
        assert verify_receipt(issue_receipt(event))["consentReceiptID"] == str(event.id)

    # The change feed, paged through, has every change once, in cursor order, with no gap.
    cursors, after = [], 0
    while page := change_feed(after=after, limit=500):
        cursors.extend(item.cursor for item in page if item.type.startswith("consent."))
        after = page[-1].cursor
    assert cursors == sorted(set(cursors))
    assert sorted(cursors) == sorted(sequence_of[e.audit_entry_id] for e in events.values())

    # And the audit chain: every entry placed once, gap-free, verified.
    numbers = db.session.scalars(sa.select(AuditEntry.sequence).order_by(AuditEntry.sequence)).all()
    assert numbers == list(range(1, len(numbers) + 1))
    result = verify_chain()
    assert result.ok and result.checked == len(numbers), result.summary()
