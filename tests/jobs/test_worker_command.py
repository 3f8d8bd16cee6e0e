"""``flask worker --once``: runs the due schedules and the jobs they enqueue, then exits."""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa

from consentmgr.cli.worker import worker_registry
from consentmgr.customers.models import PortalSignInToken
from consentmgr.jobs.models import Job, JobSchedule
from consentmgr.sql import utcnow
from consentmgr.tokens import issue_link_token


def test_worker_once_runs_every_due_schedule(runner, db):
    result = runner.invoke(args=["worker", "--once"])

    assert result.exit_code == 0, result.output
    assert "Ran 9 job(s);" in result.output  # 8, and the dashboard's refresh (issue 15)
    names = set(db.session.scalars(sa.select(JobSchedule.name)))
    assert names == {"sessions.purge", "apiclients.purge-idempotency-keys",
                     "customers.purge-sign-in-tokens", "jobs.purge-settled",
                     "mail.purge-undeliverable", "requests.purge-retention",
                     "consent-expiry.send-reminders", "consent-expiry.record-expiries",
                     "dashboard.refresh-aggregates"}
    assert {job.state for job in db.session.scalars(sa.select(Job))} == {"done"}


def test_worker_once_does_not_run_a_schedule_again_within_its_hour(runner, db):
    runner.invoke(args=["worker", "--once"])

    assert "Ran 0 job(s);" in runner.invoke(args=["worker", "--once"]).output


def test_worker_purges_spent_sign_in_tokens(runner, db):
    old = utcnow() - dt.timedelta(days=2)
    db.session.add(PortalSignInToken(id=uuid.uuid4(), customer_id=None,
                                     token_hash=issue_link_token().digest, created_at=old,
                                     expires_at=old))
    db.session.commit()

    runner.invoke(args=["worker", "--once"])

    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PortalSignInToken)) == 0


def test_every_schedule_has_a_handler(app):
    registry = worker_registry(app)

    assert set(registry.schedules) <= set(registry.handlers)
