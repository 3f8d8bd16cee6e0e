"""``flask worker``: run background jobs and periodic schedules from the database.

Any number of workers may run, on any number of machines, against one
database: they share the queue without running a job twice (see
:mod:`consentmgr.jobs.queue`). The schedules below are the one registry of
periodic work; each runs at most once per interval across all workers.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import socket
from typing import Any, Mapping

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from consentmgr.actors import SYSTEM
from consentmgr.apiclients.services import purge_idempotency_keys
from consentmgr.audit.leader import SequencerLoop
from consentmgr.audit.sequencer import drain
from consentmgr.breaches.services import NOTICE_JOB, run_notice_job
from consentmgr.cli.purging import Housekeeping, plan, run_purge
from consentmgr.consent.expiry import (
    DEFAULT_NOTICE_DAYS,
    EXPIRY_SCHEDULE,
    REMINDER_BATCH,
    REMINDER_SCHEDULE,
    record_expiries,
    send_renewal_reminders,
)
from consentmgr.customers.signin import purge_spent_tokens
from consentmgr.dashboard.aggregates import REFRESH_EVERY, REFRESH_SCHEDULE, refresh
from consentmgr.extensions import db
from consentmgr.jobs.services import (
    DEFAULT_LEASE,
    DEFAULT_RETRY_BASE,
    Registry,
    Worker,
    purge_settled,
)
from consentmgr.mail import (
    DELIVERY_JOB,
    PURGE_EVERY,
    PURGE_SCHEDULE,
    deliver_queued,
    purge_undeliverable,
    send_mail_after_commit,
)
from consentmgr.notices import services as policy_notices
from consentmgr.requests.purge import NoPolicyInEffect
from consentmgr.runtime import runtime
from consentmgr.sessions.services import SessionKind, policy_from, purge
from consentmgr.sql import utcnow
from consentmgr.unit_of_work import unit_of_work
from consentmgr.webhooks.services import WebhookDispatcher, delivery_settings

HOURLY = dt.timedelta(hours=1)
DAILY = dt.timedelta(days=1)
# Done jobs are kept a week for inspection; failed ones a month, to be looked into.
KEEP_DONE_JOBS = dt.timedelta(days=7)
KEEP_FAILED_JOBS = dt.timedelta(days=30)
DEFAULT_POLL_SECONDS = 1.0
RETENTION_SCHEDULE = "requests.purge-retention"


def worker_registry(app: Flask) -> Registry:
    """Every job kind and schedule this application's workers run."""
    registry = Registry()
    policies = {kind: policy_from(app.config, kind) for kind in SessionKind}

    def purge_sessions(payload: Mapping[str, Any]) -> None:
        purge(db.session, now=utcnow(), policies=policies)

    def purge_idempotency(payload: Mapping[str, Any]) -> None:
        purge_idempotency_keys()

    def purge_sign_in_tokens(payload: Mapping[str, Any]) -> None:
        purge_spent_tokens()

    def purge_jobs(payload: Mapping[str, Any]) -> None:
        purge_settled(db.session, now=utcnow(), keep_done=KEEP_DONE_JOBS,
                      keep_failed=KEEP_FAILED_JOBS)

    smtp = runtime(app).settings.smtp

    def deliver_mail(payload: Mapping[str, Any]) -> None:
        deliver_queued(db.session, payload, smtp=smtp)

    def purge_mail(payload: Mapping[str, Any]) -> None:
        purge_undeliverable(db.session)

    registry.job(DELIVERY_JOB, deliver_mail)
    registry.job(NOTICE_JOB, lambda payload: run_notice_job(db.session, payload))
    registry.every(PURGE_SCHEDULE, PURGE_EVERY, purge_mail)
    registry.every("sessions.purge", HOURLY, purge_sessions)
    registry.every("apiclients.purge-idempotency-keys", HOURLY, purge_idempotency)
    registry.every("customers.purge-sign-in-tokens", HOURLY, purge_sign_in_tokens)
    registry.every("jobs.purge-settled", DAILY, purge_jobs)

    def purge_retention(payload: Mapping[str, Any]) -> None:
        # The same run as `flask retention purge`: it commits batch by batch.
        try:
            retention = plan(db.session, now=utcnow())
        except NoPolicyInEffect:
            return  # nothing published yet: no period to enforce
        run_purge(db.session, retention, actor=SYSTEM, housekeeping=housekeeping_purges(app))

    registry.every(RETENTION_SCHEDULE, DAILY, purge_retention)

    renewal_notice = dt.timedelta(days=int(app.config.get("CONSENT_RENEWAL_NOTICE_DAYS",
                                                          DEFAULT_NOTICE_DAYS)))

    def remind_renewals(payload: Mapping[str, Any]) -> None:
        # The job's unit of work holds the run: each message commits with its grant's mark.
        handled = REMINDER_BATCH
        while handled == REMINDER_BATCH:
            handled = send_renewal_reminders(db.session, now=utcnow(), notice=renewal_notice,
                                             send=send_mail_after_commit).handled

    registry.every(REMINDER_SCHEDULE, HOURLY, remind_renewals)

    def record_lapsed_consents(payload: Mapping[str, Any]) -> None:
        handled = REMINDER_BATCH
        while handled == REMINDER_BATCH:
            handled = record_expiries(db.session, now=utcnow())

    registry.every(EXPIRY_SCHEDULE, HOURLY, record_lapsed_consents)

    def refresh_dashboard(payload: Mapping[str, Any]) -> None:
        # One batch run per job (bounded); the next run, minutes later, goes on if behind.
        refresh(db.session, now=utcnow())

    registry.every(REFRESH_SCHEDULE, REFRESH_EVERY, refresh_dashboard)

    notice_rate = int(app.config.get("POLICY_NOTICE_RATE", policy_notices.DEFAULT_RATE))

    def notify_policy_change(payload: Mapping[str, Any]) -> None:
        # One batch per job; the job enqueues the next, paced to the rate.
        policy_notices.run_notice_job(db.session, payload, rate=notice_rate,
                                      send=send_mail_after_commit)

    registry.job(policy_notices.NOTICE_JOB, notify_policy_change)
    return registry


def housekeeping_purges(app: Flask) -> list[Housekeeping]:
    """The purges of expired rows other areas own, for a retention run (same rules as above)."""
    policies = {kind: policy_from(app.config, kind) for kind in SessionKind}
    return [
        ("sign-in-tokens", lambda now: purge_spent_tokens(now=now)),
        ("idempotency-records", lambda now: purge_idempotency_keys(now=now)),
        ("settled-jobs", lambda now: purge_settled(db.session, now=now, keep_done=KEEP_DONE_JOBS,
                                                   keep_failed=KEEP_FAILED_JOBS)),
        ("undeliverable-mail", lambda now: purge_undeliverable(db.session)),
        ("ended-sessions", lambda now: purge(db.session, now=now, policies=policies)),
    ]


def _default_name() -> str:
    # Host and process: enough to find the worker holding a lease, and no one's data.
    return f"{socket.gethostname()[:48]}:{os.getpid()}"


@click.command("worker")
@click.option("--once", is_flag=True, help="Run what is due now, then exit (for tests and cron).")
@click.option("--poll", type=click.FloatRange(min=0.05, max=3600), default=None,
              help="Seconds to wait when nothing is due (default CONSENTMGR_WORKER_POLL_SECONDS, 1).")
@click.option("--name", default=None, help="This worker's name in job leases (default host:pid).")
@with_appcontext
def worker(once: bool, poll: float | None, name: str | None) -> None:
    """Run background jobs and periodic schedules; SIGTERM or Ctrl-C ends after the current job."""
    # Reading app.logger installs Flask's handler on the package's logger: the job lines reach it.
    _ = current_app.logger
    logging.getLogger("consentmgr.jobs").setLevel(logging.INFO)
    config = current_app.config
    runner = Worker(
        registry=worker_registry(current_app), session=db.session, name=name or _default_name(),
        lease=dt.timedelta(seconds=int(config.get("JOBS_LEASE_SECONDS",
                                                  DEFAULT_LEASE.total_seconds()))),
        retry_base=dt.timedelta(seconds=int(config.get("JOBS_RETRY_SECONDS",
                                                       DEFAULT_RETRY_BASE.total_seconds()))))
    sequencer = SequencerLoop(current_app._get_current_object(), name=runner.name)
    logging.getLogger("consentmgr.audit").setLevel(logging.INFO)
    webhooks = WebhookDispatcher(current_app._get_current_object(), delivery_settings(config),
                                 poll=float(config.get("WEBHOOKS_POLL_SECONDS",
                                                       WebhookDispatcher.poll)))
    logging.getLogger("consentmgr.webhooks").setLevel(logging.INFO)
    if once:
        ran = runner.run_once()
        with unit_of_work(db.session):
            placed = drain(db.session)
        click.echo(f"Ran {ran} job(s); sequenced {placed} audit entr{'y' if placed == 1 else 'ies'}.")
        webhooks.run_once()
        return

    def stop(signum: int, frame: object) -> None:
        runner.stopping.set()
        sequencer.stopping.set()
        webhooks.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    interval = poll if poll is not None else float(config.get("WORKER_POLL_SECONDS",
                                                              DEFAULT_POLL_SECONDS))
    click.echo(f"Worker {runner.name} started (polling every {interval:g} s).", err=True)
    sequencing = sequencer.start()
    dispatching = webhooks.start()
    runner.run_forever(poll=interval)
    dispatching.join(timeout=30)
    if sequencing is not None:
        sequencing.join(timeout=10)
    click.echo(f"Worker {runner.name} stopped.", err=True)
