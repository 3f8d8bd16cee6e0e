"""The queue: jobs run once their unit of work commits; retries back off; leases expire."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from consentmgr.jobs.models import Job, JobSchedule
from consentmgr.jobs.services import (
    LEASE_EXPIRED,
    PayloadNotDataFree,
    backoff,
    claim_next,
    enqueue,
    purge_settled,
)
from consentmgr.unit_of_work import unit_of_work
from tests.jobs.conftest import LEASE, RETRY


def _job(db, job_id) -> Job:
    db.session.expire_all()
    return db.session.get(Job, job_id)


def test_enqueued_job_runs_with_its_payload_and_is_marked_done(db, clock, registry, make_worker):
    seen = []
    registry.job("test.record", seen.append)
    customer_id = uuid.uuid4()
    with unit_of_work():
        job_id = enqueue(db.session, "test.record", {"customer_id": customer_id}, now=clock()).id

    assert make_worker().run_once() == 1

    assert seen == [{"customer_id": str(customer_id)}]
    job = _job(db, job_id)
    assert (job.state, job.attempts, job.claimed_by, job.last_error) == ("done", 1, None, None)


def test_a_job_enqueued_in_a_rolled_back_unit_of_work_never_runs(db, clock, registry, make_worker):
    seen = []
    registry.job("test.record", seen.append)
    with pytest.raises(RuntimeError), unit_of_work():
        enqueue(db.session, "test.record", now=clock())
        raise RuntimeError("the caller's change failed")

    assert make_worker().run_once() == 0
    assert seen == []


@pytest.mark.parametrize("value", ["someone@example.org", "Jane Doe", 1.5, ["a"], {"x": 1}])
def test_a_payload_holds_ids_never_data(db, clock, value):
    with pytest.raises(PayloadNotDataFree):
        enqueue(db.session, "test.record", {"who": value}, now=clock())


def test_a_job_waits_for_its_delay(db, clock, registry, make_worker):
    registry.job("test.record", lambda payload: None)
    with unit_of_work():
        enqueue(db.session, "test.record", now=clock(), delay=dt.timedelta(minutes=1))

    assert make_worker().run_once() == 0
    clock.advance(dt.timedelta(minutes=1))
    assert make_worker().run_once() == 1


def test_backoff_doubles_per_attempt_and_stops_at_an_hour():
    base = dt.timedelta(seconds=30)
    assert [backoff(n, base).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff(20, base) == dt.timedelta(hours=1)


def test_a_failing_job_retries_with_backoff_then_stays_failed(db, clock, registry, make_worker):
    def explode(payload):
        raise ValueError("a message that might carry data")

    registry.job("test.explode", explode)
    with unit_of_work():
        job_id = enqueue(db.session, "test.explode", now=clock(), max_attempts=3).id
    worker = make_worker()

    assert worker.run_next() == "retry"
    job = _job(db, job_id)
    assert (job.state, job.attempts, job.run_after) == ("pending", 1, clock() + RETRY)
    assert worker.run_once() == 0  # not before its backoff

    clock.advance(RETRY)
    assert worker.run_next() == "retry"
    assert _job(db, job_id).run_after == clock() + 2 * RETRY

    clock.advance(2 * RETRY)
    assert worker.run_next() == "failed"
    job = _job(db, job_id)
    assert (job.state, job.attempts, job.last_error) == ("failed", 3, "ValueError")
    assert job.failed_at == clock()

    clock.advance(dt.timedelta(days=1))
    assert worker.run_once() == 0  # failed stays failed, and visible


def test_a_failed_attempt_leaves_no_partial_writes(db, clock, registry, make_worker):
    def half_done(payload):
        db.session.add(JobSchedule(name="written-before-the-failure", next_run_at=clock()))
        db.session.flush()
        raise RuntimeError("second step failed")

    registry.job("test.half", half_done)
    with unit_of_work():
        enqueue(db.session, "test.half", now=clock())

    assert make_worker().run_next() == "retry"
    db.session.expire_all()
    assert db.session.get(JobSchedule, "written-before-the-failure") is None


def test_a_job_of_an_unknown_kind_fails_by_that_name(db, clock, make_worker):
    with unit_of_work():
        job_id = enqueue(db.session, "test.nobody-handles-this", now=clock()).id

    assert make_worker().run_next() == "retry"
    assert _job(db, job_id).last_error == "UnknownJobKind"


def test_a_leased_job_is_not_claimed_by_another_worker(db, clock, registry, make_worker):
    registry.job("test.record", lambda payload: None)
    with unit_of_work():
        enqueue(db.session, "test.record", now=clock())
        assert claim_next(db.session, worker="other", now=clock(), lease=LEASE) is not None

    clock.advance(LEASE - dt.timedelta(seconds=1))
    assert make_worker().run_once() == 0


def test_a_job_whose_worker_was_killed_is_claimed_again_after_its_lease(db, clock, registry,
                                                                       make_worker):
    runs = []
    registry.job("test.record", runs.append)
    with unit_of_work():
        job_id = enqueue(db.session, "test.record", now=clock()).id
        # A worker claimed it and was killed before finishing: its lease stays behind.
        claim_next(db.session, worker="killed", now=clock(), lease=LEASE)

    clock.advance(LEASE + dt.timedelta(seconds=1))
    assert make_worker().run_once() == 1

    job = _job(db, job_id)
    assert (job.state, job.attempts, len(runs)) == ("done", 2, 1)


def test_a_worker_killed_on_the_last_attempt_leaves_the_job_failed(db, clock, make_worker):
    with unit_of_work():
        job_id = enqueue(db.session, "test.record", now=clock(), max_attempts=1).id
        claim_next(db.session, worker="killed", now=clock(), lease=LEASE)

    clock.advance(LEASE + dt.timedelta(seconds=1))
    assert make_worker().run_once() == 0

    job = _job(db, job_id)
    assert (job.state, job.last_error, job.claimed_by) == ("failed", LEASE_EXPIRED, None)


def test_a_worker_whose_lease_passed_to_another_commits_nothing(db, clock, registry, make_worker):
    def outlives_its_lease(payload):
        # Meanwhile the lease ran out and another worker claimed the job.
        clock.advance(LEASE + dt.timedelta(seconds=1))
        with db.session.no_autoflush:
            db.session.add(JobSchedule(name="slow-write", next_run_at=clock()))
        db.session.flush()
        db.session.execute(Job.__table__.update().values(claimed_by="the-other", attempts=2))

    registry.job("test.slow", outlives_its_lease)
    with unit_of_work():
        enqueue(db.session, "test.slow", now=clock())

    assert make_worker().run_next() == "lost"
    db.session.expire_all()
    assert db.session.get(JobSchedule, "slow-write") is None


def test_each_job_logs_one_line_without_its_payload(db, clock, registry, make_worker, caplog):
    registry.job("test.record", lambda payload: None)
    customer_id = uuid.uuid4()
    with unit_of_work():
        job_id = enqueue(db.session, "test.record", {"customer_id": customer_id}, now=clock()).id

    with caplog.at_level("INFO", logger="consentmgr.jobs"):
        make_worker().run_once()

    lines = [r.getMessage() for r in caplog.records if r.name.startswith("consentmgr.jobs")]
    assert len(lines) == 1
    assert f"kind=test.record id={job_id} outcome=done" in lines[0]
    assert str(customer_id) not in lines[0]


def test_settled_jobs_are_purged_after_their_keeping_time(db, clock, registry, make_worker):
    registry.job("test.record", lambda payload: None)
    with unit_of_work():
        job_id = enqueue(db.session, "test.record", now=clock()).id
    make_worker().run_once()
    keep = {"keep_done": dt.timedelta(days=7), "keep_failed": dt.timedelta(days=30)}

    clock.advance(dt.timedelta(days=7))
    with unit_of_work():
        assert purge_settled(db.session, now=clock(), **keep) == 0
    clock.advance(dt.timedelta(seconds=1))
    with unit_of_work():
        assert purge_settled(db.session, now=clock(), **keep) == 1
    assert _job(db, job_id) is None
