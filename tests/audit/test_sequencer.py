"""The sequencer: entries written without a place get one after commit, once, in order.

PostgreSQL writes entries unsequenced and the worker's sequencer places
them; SQLite places them inline. Both end in the same verified chain.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from consentmgr.audit import actions
from consentmgr.audit.leader import SequencerLoop, poll_interval, sequencer_holders
from consentmgr.audit.models import AuditCheckpoint, AuditEntry, AuditHead
from consentmgr.audit.sequencer import (
    backlog,
    drain,
    max_delay,
    sequence_pending,
    sequenced_inline,
)
from consentmgr.audit.services import create_checkpoint, record, verify_chain
from consentmgr.runtime import runtime
from tests.audit.helpers import AGENT
from tests.conftest import postgresql_only
from tests.fixtures.audit import sequence_audit

ENTRIES = AuditEntry.__table__


def unsequenced(db) -> int:
    return db.session.scalar(sa.select(sa.func.count()).where(AuditEntry.sequence.is_(None)))


def wait_until(condition, timeout: float = 10.0, step: float = 0.01) -> float:
    """Seconds until ``condition()`` held; fails the test after ``timeout``."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, "condition not reached in time"
        time.sleep(step)
    return time.monotonic() - started


def test_sqlite_places_entries_inline_and_postgresql_leaves_them_to_the_sequencer(db):
    entry = record(actions.CUSTOMER_VIEW, actor=AGENT)
    db.session.commit()
    if sequenced_inline(db.session):
        assert entry.sequence == 1 and unsequenced(db) == 0
    else:
        assert entry.sequence is None and unsequenced(db) == 1
        head = db.session.get(AuditHead, 1)
        assert head is None or head.sequence == 0  # no writer moved the shared head
    sequence_audit(db)
    assert (entry.sequence, unsequenced(db)) == (1, 0)
    assert verify_chain().ok


@postgresql_only
def test_a_rolled_back_transaction_leaves_nothing_to_sequence(db):
    record(actions.CUSTOMER_VIEW, actor=AGENT)
    db.session.flush()
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ENTRIES)) == 0
    assert sequence_audit(db) == 0


@postgresql_only
def test_batches_number_entries_contiguously_in_insertion_order(db):
    for number in range(7):
        record(actions.CUSTOMER_VIEW, actor=AGENT, details={"n": number})
    db.session.commit()
    first = sequence_pending(db.session, limit=3)
    second = sequence_pending(db.session, limit=3)
    third = sequence_pending(db.session, limit=3)
    assert sequence_pending(db.session, limit=3) is None
    db.session.commit()
    assert [(b.first, b.last) for b in (first, second, third)] == [(1, 3), (4, 6), (7, 7)]
    rows = db.session.execute(sa.select(ENTRIES.c.sequence, ENTRIES.c.details)
                              .order_by(ENTRIES.c.sequence)).all()
    assert [r.details["n"] for r in rows] == list(range(7))
    head = db.session.get(AuditHead, 1)
    assert (head.sequence, head.hash) == (7, third.head_hash)
    assert verify_chain().checked == 7


@postgresql_only
def test_a_sequencer_that_dies_mid_batch_leaves_nothing_half_sequenced(app, db):
    record_count = 5
    for _ in range(record_count):
        record(actions.CUSTOMER_VIEW, actor=AGENT)
    db.session.commit()
    doomed = Session(db.engine)  # the sequencer's own session and connection
    try:
        pid = doomed.execute(sa.text("SELECT pg_backend_pid()")).scalar()
        assert sequence_pending(doomed, limit=3).last == 3
        with db.engine.begin() as killer:  # its process dies before the commit
            killer.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(sa.exc.DBAPIError):
            doomed.commit()
    finally:
        doomed.close()
    assert unsequenced(db) == record_count
    assert sequence_audit(db) == record_count
    assert verify_chain().checked == record_count


@postgresql_only
def test_the_trigger_allows_only_giving_an_unsequenced_entry_its_place(db):
    record(actions.CUSTOMER_VIEW, actor=AGENT)
    record(actions.CUSTOMER_VIEW, actor=AGENT)
    db.session.commit()
    first, second = db.session.scalars(sa.select(AuditEntry.id).order_by(AuditEntry.id)).all()
    # Placing an entry while also changing what it says is refused.
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), db.engine.begin() as conn:
        conn.execute(sa.update(ENTRIES).where(ENTRIES.c.id == first).values(
            sequence=1, prev_hash="0" * 64, hash="a" * 64, actor_id="someone-else"))
    sequence_audit(db)
    # Once placed, the place is fixed.
    for change in ({"sequence": 9}, {"hash": "b" * 64}, {"prev_hash": "c" * 64}):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), db.engine.begin() as conn:
            conn.execute(sa.update(ENTRIES).where(ENTRIES.c.id == second).values(**change))
    assert verify_chain().checked == 2


def test_verify_fails_when_an_entry_waits_longer_than_the_allowed_delay(app, db, monkeypatch):
    record(actions.CUSTOMER_VIEW, actor=AGENT)
    db.session.commit()
    if sequenced_inline(db.session):  # SQLite: nothing ever waits; forge a waiting entry
        values = dict(db.session.execute(sa.select(ENTRIES)).mappings().one())
        values.update(id=None, sequence=None, prev_hash=None, hash=None)
        with db.engine.begin() as conn:
            conn.execute(sa.insert(ENTRIES).values({k: v for k, v in values.items() if k != "id"}))
        db.session.expire_all()
    result = verify_chain(sequence_delay=dt.timedelta(0))
    assert not result.ok
    assert "no place in the chain yet" in result.reason and "sequencer running" in result.reason
    assert verify_chain(sequence_delay=dt.timedelta(minutes=1)).ok  # young enough: no failure
    assert backlog(db.session).count == 1


@postgresql_only
def test_the_sequencer_signs_a_checkpoint_per_interval(app, db):
    key = runtime(app).settings.audit_signing_key
    every = dt.timedelta(minutes=1)
    now = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.timezone.utc)
    record(actions.CUSTOMER_VIEW, actor=AGENT)
    db.session.commit()
    first = sequence_pending(db.session, signing_key=key, checkpoint_every=every, now=now)
    record(actions.CUSTOMER_VIEW, actor=AGENT)
    db.session.flush()
    second = sequence_pending(db.session, signing_key=key, checkpoint_every=every,
                              now=now + dt.timedelta(seconds=30))
    record(actions.CUSTOMER_VIEW, actor=AGENT)
    db.session.flush()
    third = sequence_pending(db.session, signing_key=key, checkpoint_every=every,
                             now=now + dt.timedelta(seconds=61))
    db.session.commit()
    assert first.checkpoint.sequence == 1 and second.checkpoint is None
    assert (third.checkpoint.sequence, third.checkpoint.head_hash) == (3, third.head_hash)
    assert third.checkpoint.verify(key) is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditCheckpoint)) == 2
    result = verify_chain()
    assert result.ok and result.checkpoints_checked == 2


def test_a_manual_checkpoint_covers_entries_still_waiting_and_its_own(db):
    record(actions.CUSTOMER_VIEW, actor=AGENT)
    record(actions.CUSTOMER_VIEW, actor=AGENT)
    db.session.commit()
    checkpoint = create_checkpoint(actor=AGENT)
    db.session.commit()
    assert checkpoint.sequence == 3 and unsequenced(db) == 0
    assert db.session.get(AuditHead, 1).hash == checkpoint.head_hash
    assert verify_chain().checkpoints_checked == 1


def test_poll_interval_is_a_fifth_of_the_delay_within_bounds():
    assert poll_interval(dt.timedelta(seconds=1)) == 0.2
    assert poll_interval(dt.timedelta(seconds=0.5)) == pytest.approx(0.1)
    assert poll_interval(dt.timedelta(0)) == 0.02
    assert poll_interval(dt.timedelta(seconds=30)) == 0.2


def test_sqlite_needs_no_sequencer_loop(app, db):
    loop = SequencerLoop(app, name="test")
    if sequenced_inline(db.session):
        assert loop.start() is None
    else:
        assert loop.needed


@postgresql_only
def test_the_loop_places_committed_entries_within_the_allowed_delay(app, db):
    loop = SequencerLoop(app, name="loop-a")
    thread = loop.start()
    try:
        wait_until(loop.leading.is_set)
        delays = []
        for _ in range(5):
            record(actions.CUSTOMER_VIEW, actor=AGENT, subject_id=uuid.uuid4())
            db.session.commit()
            delays.append(wait_until(lambda: unsequenced(db) == 0))
        assert max(delays) < 1.0, delays
    finally:
        loop.stopping.set()
        thread.join(timeout=10)
    assert not loop.leading.is_set() and loop.sequenced == 5
    assert verify_chain().checked == 5


@postgresql_only
def test_after_a_full_batch_the_loop_goes_on_and_after_a_partial_one_it_waits(app, db,
                                                                              monkeypatch):
    """A steady stream of writes is placed in batches, not a few entries per pass."""
    from tests.fixtures.loops import scripted

    loop = SequencerLoop(app, name="batching", batch=5)
    events = scripted(monkeypatch, loop, "_pass", [5, 5, 2, 0, 5, 1])
    wait = f"wait {poll_interval(max_delay(app.config)):g}"

    loop.run()

    assert events == ["pass 5", "pass 5", "pass 2", wait, "pass 0", wait, "pass 5", "pass 1",
                      wait, wait]


@postgresql_only
def test_one_loop_leads_and_another_takes_over_when_it_stops(app, db):
    first, second = SequencerLoop(app, name="loop-a"), SequencerLoop(app, name="loop-b")
    threads = [first.start()]
    try:
        wait_until(first.leading.is_set)
        threads.append(second.start())
        time.sleep(0.5)  # several of the second loop's polls
        assert not second.leading.is_set()
        with db.engine.connect() as conn:
            assert [name for _, name in sequencer_holders(conn)] == ["loop-a"]
        first.stopping.set()
        threads[0].join(timeout=10)
        assert wait_until(second.leading.is_set, timeout=5) < 2
        record(actions.CUSTOMER_VIEW, actor=AGENT)
        db.session.commit()
        wait_until(lambda: unsequenced(db) == 0)
        assert second.sequenced == 1
    finally:
        for loop in (first, second):
            loop.stopping.set()
        for thread in threads:
            thread.join(timeout=10)


@postgresql_only
def test_concurrent_writers_and_a_running_sequencer_give_one_gap_free_chain(app, db, database_url):
    loop = SequencerLoop(app, name="loop-a", batch=7)  # small batches: many turns
    sequencing = loop.start()
    errors: list[BaseException] = []

    def write(number: int) -> None:
        try:
            with app.app_context():
                from consentmgr.extensions import db as thread_db

                for _ in range(20):
                    record(actions.CUSTOMER_VIEW, actor=AGENT, details={"writer": number})
                    thread_db.session.commit()
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    writers = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    try:
        for thread in writers:
            thread.start()
        for thread in writers:
            thread.join(timeout=60)
        wait_until(lambda: unsequenced(db) == 0)
    finally:
        loop.stopping.set()
        sequencing.join(timeout=10)
    assert errors == []
    numbers = db.session.scalars(sa.select(AuditEntry.sequence).order_by(AuditEntry.sequence)).all()
    assert numbers == list(range(1, 161))
    result = verify_chain()
    assert result.ok and result.checked == 160, result.summary()


def test_drain_places_everything_waiting(db):
    for _ in range(4):
        record(actions.CUSTOMER_VIEW, actor=AGENT)
    db.session.commit()
    placed = drain(db.session, limit=3)
    db.session.commit()
    assert placed == (0 if sequenced_inline(db.session) else 4)
    assert unsequenced(db) == 0 and verify_chain().checked == 4
