"""Schedules: each runs once per interval, however many workers look for it."""

from __future__ import annotations

import datetime as dt
import threading

import sqlalchemy as sa

from consentmgr.jobs.models import Job
from consentmgr.jobs.services import Worker
from tests.conftest import postgresql_only
from tests.jobs.conftest import LEASE, RETRY

EVERY = dt.timedelta(hours=1)


def test_a_schedule_runs_once_per_interval_with_two_workers(db, clock, registry, make_worker):
    runs = []
    registry.every("test.tick", EVERY, runs.append)
    first, second = make_worker("worker-a"), make_worker("worker-b")

    assert first.run_once() + second.run_once() == 1
    clock.advance(EVERY - dt.timedelta(seconds=1))
    assert first.run_once() + second.run_once() == 0
    clock.advance(dt.timedelta(seconds=1))
    assert second.run_once() + first.run_once() == 1

    assert len(runs) == 2


def test_a_failed_scheduled_run_is_retried_as_a_job(db, clock, registry, make_worker):
    attempts = []

    def flaky(payload):
        attempts.append(payload)
        if len(attempts) == 1:
            raise ConnectionError("first try fails")

    registry.every("test.flaky", EVERY, flaky)
    worker = make_worker()
    worker.run_once()
    clock.advance(RETRY)
    worker.run_once()

    assert len(attempts) == 2
    assert db.session.scalar(sa.select(Job.finished_at)) is not None


@postgresql_only
def test_concurrent_workers_enqueue_a_due_schedule_once(app, db, clock, registry):
    registry.every("test.tick", EVERY, lambda payload: None)
    start = threading.Barrier(4)
    enqueued = []

    def look(name):
        with app.app_context():
            worker = Worker(registry=registry, session=db.session, name=name, lease=LEASE,
                            retry_base=RETRY, clock=clock)
            start.wait()
            enqueued.append(worker.enqueue_due_schedules())
            db.session.remove()

    threads = [threading.Thread(target=look, args=(f"worker-{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(enqueued) == [0, 0, 0, 1]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Job)) == 1
