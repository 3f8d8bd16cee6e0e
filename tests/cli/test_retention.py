"""``flask retention purge [--dry-run]`` and the worker's daily ``requests.purge-retention``."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa

from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from consentmgr.cli.worker import RETENTION_SCHEDULE, worker_registry
from consentmgr.customers import services as customers
from consentmgr.customers.models import HistoryEntry, PortalSignInToken
from consentmgr.jobs.models import JobSchedule
from consentmgr.sql import utcnow
from consentmgr.tokens import issue_link_token
from tests.conftest import TEST_ACTOR

UTC = dt.UTC


@pytest.fixture
def person(create_customer, publish_policy_files):
    """A customer under the shipped policies, with a telltale name."""
    publish_policy_files()
    return create_customer(name="RETENTIONNAME Example")


def _add(db, customer, category: str, when: dt.datetime, summary: str = "SUMMARYTEXT") -> uuid.UUID:
    entry = customers.add_history(customer, {
        "occurred_at": when.isoformat(), "channel": "web", "kind": "visit",
        "data_category": category, "summary": summary}, actor=TEST_ACTOR)
    db.session.commit()
    return entry.id


def _history(db) -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(HistoryEntry))


def test_dry_run_prints_what_would_go_and_changes_nothing(runner, db, person):
    _add(db, person, "browsing-activity", utcnow() - dt.timedelta(days=400))
    _add(db, person, "browsing-activity", utcnow() - dt.timedelta(days=10))

    result = runner.invoke(args=["retention", "purge", "--dry-run"])

    assert result.exit_code == 0, result.output
    assert "dry run: nothing changed" in result.output
    assert "history:browsing-activity (396 days): 1 would go" in result.output
    assert "Would purge 1 item(s)" in result.output
    assert _history(db) == 2
    assert not db.session.scalar(sa.select(AuditEntry).where(
        AuditEntry.action == actions.RETENTION_PURGED))


def test_purge_deletes_what_is_past_its_period_and_prints_a_summary(runner, db, person):
    _add(db, person, "browsing-activity", utcnow() - dt.timedelta(days=400))
    _add(db, person, "device-data", utcnow() - dt.timedelta(days=200))
    _add(db, person, "order-history", utcnow() - dt.timedelta(days=400))

    result = runner.invoke(args=["retention", "purge", "--batch-size", "1"])

    assert result.exit_code == 0, result.output
    assert "history:browsing-activity (396 days): 1 purged" in result.output
    assert "history:device-data (183 days): 1 purged" in result.output
    assert "history:order-history (4018 days): 0 purged" in result.output
    assert "Purged 2 item(s); 0 held by a legal hold" in result.output
    assert _history(db) == 1
    for personal in ("RETENTIONNAME", "SUMMARYTEXT", str(person.id)):
        assert personal not in result.output


def test_purge_as_of_a_later_time(runner, db, person):
    _add(db, person, "order-history", dt.datetime(2026, 5, 1, tzinfo=UTC))

    early = runner.invoke(args=["retention", "purge", "--now", "2036-01-01"])
    late = runner.invoke(args=["retention", "purge", "--now", "2037-06-01"])

    assert "history:order-history (4018 days): 0 purged" in early.output
    assert "history:order-history (4018 days): 1 purged" in late.output


def test_a_second_run_has_nothing_left_to_purge(runner, db, person):
    _add(db, person, "browsing-activity", utcnow() - dt.timedelta(days=400))

    runner.invoke(args=["retention", "purge"])
    again = runner.invoke(args=["retention", "purge"])

    assert again.exit_code == 0, again.output
    assert "Purged 0 item(s)" in again.output


def test_a_category_without_retention_is_named_and_skipped(runner, db, person):
    _add(db, person, "legacy-crm-notes", utcnow() - dt.timedelta(days=9000))

    result = runner.invoke(args=["retention", "purge"])

    assert result.exit_code == 0, result.output
    assert ("history:legacy-crm-notes: skipped, no retention period in policy 2026-03"
            in result.output)
    assert _history(db) == 1


def test_held_items_are_counted(runner, db, person):
    from consentmgr.requests.services import place_legal_hold

    _add(db, person, "browsing-activity", utcnow() - dt.timedelta(days=400))
    place_legal_hold(person, actor=TEST_ACTOR, exception="legal-claims")
    db.session.commit()

    result = runner.invoke(args=["retention", "purge"])

    assert "history:browsing-activity (396 days): 0 purged, 1 held by a legal hold" in result.output
    assert "1 held by a legal hold" in result.output.splitlines()[-1]
    assert _history(db) == 1


def test_expired_tokens_go_with_the_run(runner, db, person):
    old = utcnow() - dt.timedelta(days=2)
    db.session.add(PortalSignInToken(id=uuid.uuid4(), customer_id=None,
                                     token_hash=issue_link_token().digest, created_at=old,
                                     expires_at=old))
    db.session.commit()

    dry = runner.invoke(args=["retention", "purge", "--dry-run"])
    assert "sign-in-tokens: 1 would go" in dry.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PortalSignInToken)) == 1

    result = runner.invoke(args=["retention", "purge"])

    assert "sign-in-tokens: 1 purged" in result.output
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PortalSignInToken)) == 0
    entry = db.session.scalar(sa.select(AuditEntry).where(
        AuditEntry.action == actions.RETENTION_PURGED))
    assert entry.details == {"category": "sign-in-tokens", "policy_version": "2026-03", "purged": 1}


def test_without_a_policy_in_effect_it_says_so_and_changes_nothing(runner, db):
    result = runner.invoke(args=["retention", "purge"])

    assert result.exit_code == 1
    assert "No published privacy-policy version is in effect" in result.output


def test_the_worker_runs_the_purge_daily(app, runner, db, person):
    _add(db, person, "browsing-activity", utcnow() - dt.timedelta(days=400))
    assert worker_registry(app).schedules[RETENTION_SCHEDULE].every == dt.timedelta(days=1)

    result = runner.invoke(args=["worker", "--once"])

    assert result.exit_code == 0, result.output
    assert _history(db) == 0
    assert db.session.get(JobSchedule, RETENTION_SCHEDULE) is not None
    entry = db.session.scalar(sa.select(AuditEntry).where(
        AuditEntry.action == actions.RETENTION_PURGED))
    assert entry.actor_type == "system" and entry.details["purged"] == 1
