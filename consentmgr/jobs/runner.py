"""The worker's loop: the boundary of a background job, as a view is of a request.

Each step is its own unit of work: claiming a job (the lease must be
visible to other workers before the job runs), running it (its effects and
its "done" mark commit together, or none of them), and recording a failure
(after the run's writes were rolled back, so a failed attempt leaves no
partial writes). One data-free log line per job: kind, id, outcome,
attempt, duration.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from consentmgr.jobs import queue, schedules
from consentmgr.jobs.queue import Claim
from consentmgr.jobs.registry import Registry
from consentmgr.sql import utcnow
from consentmgr.unit_of_work import unit_of_work

log = logging.getLogger(__name__)

DEFAULT_LEASE = dt.timedelta(minutes=5)
DEFAULT_RETRY_BASE = dt.timedelta(seconds=30)


@dataclass
class Worker:
    """Claims and runs due jobs and schedules in ``session`` (one worker per thread or process)."""

    registry: Registry
    session: Session
    name: str
    lease: dt.timedelta = DEFAULT_LEASE
    retry_base: dt.timedelta = DEFAULT_RETRY_BASE
    clock: Callable[[], dt.datetime] = utcnow
    stopping: threading.Event = field(default_factory=threading.Event)

    def enqueue_due_schedules(self) -> int:
        """Enqueue one run of each schedule that is due and not yet taken by another worker."""
        enqueued = 0
        for schedule in self.registry.schedules.values():
            with unit_of_work(self.session):
                now = self.clock()
                if schedules.claim_due(self.session, schedule.name, every=schedule.every, now=now):
                    queue.enqueue(self.session, schedule.name, now=now)
                    enqueued += 1
        return enqueued

    def run_next(self) -> str | None:
        """Claim and run one due job; its outcome, or None when nothing was due."""
        with unit_of_work(self.session):
            claim = queue.claim_next(self.session, worker=self.name, now=self.clock(),
                                     lease=self.lease)
        if claim is None:
            return None
        started = time.perf_counter()
        outcome = self._run(claim)
        log.info("job kind=%s id=%s outcome=%s attempt=%d/%d duration_ms=%.1f", claim.kind,
                 claim.id, outcome, claim.attempt, claim.max_attempts,
                 (time.perf_counter() - started) * 1000)
        return outcome

    def _run(self, claim: Claim) -> str:
        try:
            with unit_of_work(self.session):
                self.registry.handler_for(claim.kind)(claim.payload)
                queue.finish(self.session, claim, now=self.clock())
        except queue.LeaseLost:
            return "lost"
        except Exception as error:  # noqa: BLE001 - any failure is the job's, recorded by type
            with unit_of_work(self.session):
                return queue.record_failure(self.session, claim, type(error).__name__,
                                            now=self.clock(), retry_base=self.retry_base)
        return "done"

    def run_once(self) -> int:
        """Enqueue due schedules, fail abandoned last attempts, then run due jobs until none is
        left (or a stop); returns how many ran."""
        self.enqueue_due_schedules()
        with unit_of_work(self.session):
            queue.fail_abandoned(self.session, now=self.clock())
        ran = 0
        while not self.stopping.is_set() and self.run_next() is not None:
            ran += 1
        return ran

    def run_forever(self, *, poll: float) -> None:
        """Run due work, waiting ``poll`` seconds when idle, until :attr:`stopping` is set.

        A stop lets the current job finish. A database outage is logged by
        its type and waited out.
        """
        while not self.stopping.is_set():
            try:
                ran = self.run_once()
            except sa.exc.OperationalError as error:
                log.warning("worker %s: database unavailable (%s); retrying", self.name,
                            type(error).__name__)
                self.session.close()  # the unit of work rolled back; drop the dead connection
                ran = 0
            if not ran:
                self.stopping.wait(poll)
