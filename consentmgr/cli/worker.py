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

from consentmgr.apiclients.services import purge_idempotency_keys
from consentmgr.audit.leader import SequencerLoop
from consentmgr.audit.sequencer import drain
from consentmgr.customers.signin import purge_spent_tokens
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
)
from consentmgr.runtime import runtime
from consentmgr.sessions.services import SessionKind, policy_from, purge
from consentmgr.sql import utcnow
from consentmgr.unit_of_work import unit_of_work

HOURLY = dt.timedelta(hours=1)
DAILY = dt.timedelta(days=1)
# Done jobs are kept a week for inspection; failed ones a month, to be looked into.
KEEP_DONE_JOBS = dt.timedelta(days=7)
KEEP_FAILED_JOBS = dt.timedelta(days=30)
DEFAULT_POLL_SECONDS = 1.0


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
    registry.every(PURGE_SCHEDULE, PURGE_EVERY, purge_mail)
    registry.every("sessions.purge", HOURLY, purge_sessions)
    registry.every("apiclients.purge-idempotency-keys", HOURLY, purge_idempotency)
    registry.every("customers.purge-sign-in-tokens", HOURLY, purge_sign_in_tokens)
    registry.every("jobs.purge-settled", DAILY, purge_jobs)
    return registry


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
    if once:
        ran = runner.run_once()
        with unit_of_work(db.session):
            placed = drain(db.session)
        click.echo(f"Ran {ran} job(s); sequenced {placed} audit entr{'y' if placed == 1 else 'ies'}.")
        return

    def stop(signum: int, frame: object) -> None:
        runner.stopping.set()
        sequencer.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    interval = poll if poll is not None else float(config.get("WORKER_POLL_SECONDS",
                                                              DEFAULT_POLL_SECONDS))
    click.echo(f"Worker {runner.name} started (polling every {interval:g} s).", err=True)
    sequencing = sequencer.start()
    runner.run_forever(poll=interval)
    if sequencing is not None:
        sequencing.join(timeout=10)
    click.echo(f"Worker {runner.name} stopped.", err=True)
