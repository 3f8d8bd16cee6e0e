"""Several workers on one PostgreSQL queue: every job runs, and runs once."""

from __future__ import annotations

import collections
import threading
import uuid

import sqlalchemy as sa

from consentmgr.jobs.models import Job
from consentmgr.jobs.services import Worker, enqueue
from consentmgr.unit_of_work import unit_of_work
from tests.conftest import postgresql_only
from tests.jobs.conftest import LEASE, RETRY

WORKERS = 4
JOBS = 200


@postgresql_only
def test_concurrent_workers_run_each_job_exactly_once(app, db, clock, registry):
    runs: collections.Counter[str] = collections.Counter()
    by_worker: collections.Counter[str] = collections.Counter()
    lock = threading.Lock()

    def record(payload):
        with lock:
            runs[payload["n"]] += 1

    registry.job("test.record", record)
    with unit_of_work():
        for _ in range(JOBS):
            enqueue(db.session, "test.record", {"n": uuid.uuid4()}, now=clock())
    start = threading.Barrier(WORKERS)
    errors = []

    def work(name):
        try:
            with app.app_context():
                worker = Worker(registry=registry, session=db.session, name=name, lease=LEASE,
                                retry_base=RETRY, clock=clock)
                start.wait()
                by_worker[name] = worker.run_once()
                db.session.remove()
        except Exception as error:  # surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(f"worker-{n}",)) for n in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(runs) == JOBS and set(runs.values()) == {1}
    assert sum(by_worker.values()) == JOBS
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Job)
                             .where(Job.finished_at.is_(None))) == 0
