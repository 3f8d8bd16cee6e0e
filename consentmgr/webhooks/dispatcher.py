"""The worker's webhook loop: fan out new changes, then send what is due, every fraction of a second.

``flask worker`` starts one :class:`WebhookDispatcher` on a thread of its
own beside the job loop (as it does the audit sequencer). It polls every
``CONSENTMGR_WEBHOOKS_POLL_SECONDS`` (default 0.2 s) rather than waiting
for the job loop's poll (1 s), so that a change reaches an idle receiver
within a second of its commit. Deliveries are rows with their own lease and
retry schedule rather than jobs: their retries follow Standard Webhooks'
day of exponential backoff with jitter, and a failure ends in a
dead-letter an operator can send again, neither of which the jobs queue's
hour of plain doubling gives. Any number of workers may run: the cursor's
row lock and the deliveries' leases keep each event fanned out and each
attempt made once.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from consentmgr.extensions import db
from consentmgr.sql import utcnow
from consentmgr.unit_of_work import unit_of_work
from consentmgr.webhooks.delivery import (
    DeliverySettings,
    Outcome,
    Sender,
    claim_due,
    http_send,
    prepare,
    purge_settled,
    record,
)
from consentmgr.webhooks.events import fan_out
from consentmgr.webhooks.targets import ForbiddenTarget, Resolver, system_resolver

log = logging.getLogger(__name__)

DEFAULT_POLL = 0.2
PURGE_EVERY = dt.timedelta(hours=1)


@dataclass
class WebhookRun:
    """One pass: fan out the new changes, then attempt every due delivery."""

    session: Session
    settings: DeliverySettings
    clock: Callable[[], dt.datetime] = utcnow
    send: Sender = http_send
    resolve: Resolver = system_resolver
    rng: random.Random | None = None

    def fan_out(self) -> int:
        """Write deliveries for changes committed since the last pass; how many entries were read."""
        read = 0
        while True:
            with unit_of_work(self.session):
                done = fan_out(self.session, now=self.clock())
            read += done.entries
            if not done.entries:
                return read

    def deliver_due(self) -> list[Outcome]:
        """Attempt every delivery due now (in batches); each attempt's outcome."""
        outcomes: list[Outcome] = []
        while True:
            with unit_of_work(self.session):
                claims = claim_due(self.session, now=self.clock(), lease=self.settings.lease)
            if not claims:
                return outcomes
            for claim in claims:
                outcomes.append(self._attempt(claim))

    def _attempt(self, claim) -> Outcome:
        status: int | None = None
        error: str | None = None
        started = time.perf_counter()
        try:
            with unit_of_work(self.session):
                message = prepare(self.session, claim, now=self.clock(),
                                  allow_private=self.settings.allow_private,
                                  resolve=self.resolve)
            status = self.send(message, self.settings.timeout)
        except ForbiddenTarget:
            error = "ForbiddenTarget"
        except Exception as failure:  # noqa: BLE001 - any failure is the attempt's, kept by type
            error = type(failure).__name__
        with unit_of_work(self.session):
            outcome = record(self.session, claim, now=self.clock(), status=status, error=error,
                             rng=self.rng)
        log.info("webhook delivery id=%s outcome=%s status=%s error=%s attempt=%d "
                 "duration_ms=%.1f", claim.id, outcome.result, status, error, claim.attempt,
                 (time.perf_counter() - started) * 1000)
        return outcome

    def run_once(self) -> int:
        """Fan out, then deliver; how many entries and attempts there were."""
        return self.fan_out() + len(self.deliver_due())

    def purge(self) -> int:
        """Delete long-settled deliveries (see :func:`purge_settled`); how many."""
        with unit_of_work(self.session):
            return purge_settled(self.session, now=self.clock())


@dataclass
class WebhookDispatcher:
    """Runs :class:`WebhookRun` passes on a thread until stopped."""

    app: Flask
    settings: DeliverySettings
    poll: float = DEFAULT_POLL
    stopping: threading.Event = field(default_factory=threading.Event)
    purged_at: dt.datetime | None = None

    def run_once(self) -> int:
        """One pass in an app context of its own (its own session); an hourly purge too."""
        with self.app.app_context():
            try:
                work = WebhookRun(db.session, self.settings)
                busy = work.run_once()
                now = utcnow()
                if self.purged_at is None or now - self.purged_at >= PURGE_EVERY:
                    work.purge()
                    self.purged_at = now
                return busy
            finally:
                db.session.remove()

    def start(self) -> threading.Thread:
        """Run :meth:`run` on a daemon thread."""
        thread = threading.Thread(target=self.run, name="consentmgr-webhooks", daemon=True)
        thread.start()
        return thread

    def run(self) -> None:
        """Pass after pass, ``poll`` seconds apart, until :attr:`stopping`.

        A pass fans out every change committed so far and attempts every
        delivery due, so the next one waits the interval even after a busy
        pass: under a steady stream of writes, passes back to back would each
        read the few changes committed since the last (a handful of
        statements, one of them an UPDATE of the cursor) and keep a core busy.
        """
        while not self.stopping.is_set():
            try:
                self.run_once()
            except sa.exc.OperationalError as error:
                log.warning("webhooks: database unavailable (%s); retrying", type(error).__name__)
                self.stopping.wait(1.0)
            except Exception as error:  # noqa: BLE001 - the loop must outlive one bad pass
                # By type only: a message could hold data. The pass rolled back; retry it.
                log.error("webhooks: pass failed (%s); retrying", type(error).__name__)
                self.stopping.wait(1.0)
            self.stopping.wait(self.poll)
