"""The breach register: the record, the 72-hour clock, and who is told (GDPR Art. 33/34)."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from consentmgr.breaches import services
from consentmgr.breaches.models import Breach, CustomerNotice
from consentmgr.errors import ValidationFailed
from consentmgr.sql import utcnow
from tests.breaches.conftest import breach_details

UTC = dt.UTC
HOME = "https://privacy.example/"


def _count(db, model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_a_breach_is_due_at_the_authority_72_hours_after_its_discovery(record_breach):
    discovered = dt.datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    breach = record_breach(discovered_at=discovered)

    assert breach.authority_due_at == dt.datetime(2026, 11, 5, 9, 30, tzinfo=UTC)
    assert breach.is_open and breach.customer_notice == CustomerNotice.UNDECIDED


def test_the_countdown_says_the_time_left_then_overdue(record_breach):
    breach = record_breach(discovered_at=dt.datetime(2026, 11, 2, 9, 30, tzinfo=UTC))

    early = services.countdown(breach, now=dt.datetime(2026, 11, 3, 16, 18, tzinfo=UTC))
    late = services.countdown(breach, now=dt.datetime(2026, 11, 5, 12, 35, tzinfo=UTC))

    assert (early.text, early.overdue, early.soon) == ("41 h 12 min left", False, False)
    assert (late.text, late.overdue) == ("Overdue by 3 h 5 min", True)
    assert breach.authority_overdue(dt.datetime(2026, 11, 5, 12, 35, tzinfo=UTC))


def test_the_last_day_is_flagged_as_due_soon(record_breach):
    breach = record_breach(discovered_at=dt.datetime(2026, 11, 2, 9, 30, tzinfo=UTC))
    clock = services.countdown(breach, now=dt.datetime(2026, 11, 4, 12, 0, tzinfo=UTC))
    assert clock.soon and not clock.overdue


@pytest.mark.parametrize(("field", "value"), [
    ("discovered_at", "28/11/2026 9:30"),
    ("discovered_at", "2026-02-30T10:00"),
    ("discovered_at", None),
    ("approx_people", -1),
    ("approx_people", "about forty"),
    ("description", "   "),
    ("measures", ""),
])
def test_bad_details_are_refused_and_nothing_is_saved(db, dpo_actor, field, value):
    with pytest.raises(ValidationFailed) as refused:
        services.record_breach(breach_details(**{field: value}), actor=dpo_actor)
    db.session.rollback()

    assert field in refused.value.errors
    assert _count(db, Breach) == 0


def test_a_discovery_in_the_future_is_refused(db, dpo_actor):
    tomorrow = utcnow() + dt.timedelta(days=1)
    with pytest.raises(ValidationFailed) as refused:
        services.record_breach(breach_details(discovered_at=tomorrow), actor=dpo_actor)
    assert refused.value.errors == {"discovered_at": ["This cannot be in the future."]}


def test_every_problem_is_reported_at_once(db, dpo_actor):
    with pytest.raises(ValidationFailed) as refused:
        services.record_breach({"discovered_at": "yesterday"}, actor=dpo_actor)
    assert set(refused.value.errors) == {"discovered_at", "approx_people", "description",
                                         "data_categories", "consequences", "measures"}


def test_the_authority_notification_is_recorded_with_whether_it_was_in_time(
        db, record_breach, dpo_actor):
    breach = record_breach(discovered_at=utcnow() - dt.timedelta(hours=80))
    services.record_authority_notification(breach, notified_at=utcnow() - dt.timedelta(hours=1),
                                           reference="BlnBDI case 2026-0042", actor=dpo_actor)
    db.session.commit()

    entry = db.session.scalar(sa.select(AuditEntry).where(
        AuditEntry.action == actions.BREACH_AUTHORITY_NOTIFIED))
    assert entry.details == {"breach": str(breach.id), "within_72_hours": False}
    assert breach.authority_reference == "BlnBDI case 2026-0042"
    assert not services.countdown(breach).overdue


@pytest.mark.parametrize("hours_after_discovery", [-1, 5])  # before the discovery; in the future
def test_a_notification_before_the_discovery_or_in_the_future_is_refused(
        db, record_breach, dpo_actor, hours_after_discovery):
    breach = record_breach(discovered_at=utcnow() - dt.timedelta(hours=2))
    with pytest.raises(ValidationFailed) as refused:
        services.record_authority_notification(
            breach, notified_at=breach.discovered_at + dt.timedelta(hours=hours_after_discovery),
            reference="case 1", actor=dpo_actor)
    assert list(refused.value.errors) == ["notified_at"]


def test_open_breaches_are_those_with_something_left_to_do(db, record_breach, dpo_actor):
    done = record_breach()
    services.record_authority_notification(done, notified_at=utcnow(), reference="case 7",
                                           actor=dpo_actor)
    services.decide_customer_notice(done, required=False, reason="Encrypted disk: no high risk",
                                    actor=dpo_actor)
    waiting = record_breach()
    db.session.commit()

    assert [b.id for b in services.open_breaches()] == [waiting.id]


def test_customers_are_selected_from_one_staff_accounts_views_in_the_window(
        db, create_customer, create_staff_user, views_by):
    agent, colleague = create_staff_user("agent", password=None), create_staff_user(
        "agent", password=None)
    first, second, other = create_customer(), create_customer(), create_customer()
    views_by(agent, first, second, first)
    views_by(colleague, other)
    now = utcnow()

    selected = services.select_affected_customers(agent.email, now - dt.timedelta(hours=1),
                                                  now + dt.timedelta(hours=1))
    by_id = services.select_affected_customers(agent.id, now - dt.timedelta(hours=1),
                                               now + dt.timedelta(hours=1))
    before = services.select_affected_customers(agent.email, now - dt.timedelta(days=2),
                                                now - dt.timedelta(days=1))

    assert selected == by_id == [first.id, second.id]
    assert before == []


@pytest.mark.parametrize(("account", "since", "until", "field"), [
    ("nobody@staff.example", "2026-11-01T00:00", "2026-11-02T00:00", "staff_account"),
    ("", "2026-11-01T00:00", "2026-11-02T00:00", "staff_account"),
    ("AGENT", "2026-11-02T00:00", "2026-11-02T00:00", "until"),  # an empty window
    ("AGENT", "2026-11-03T00:00", "2026-11-02T00:00", "until"),  # a reversed one
    ("AGENT", "1 Nov", "2026-11-02T00:00", "since"),
])
def test_an_unknown_account_or_an_empty_window_is_refused(
        db, create_staff_user, account, since, until, field):
    agent = create_staff_user("agent", password=None)
    with pytest.raises(ValidationFailed) as refused:
        services.select_affected_customers(agent.email if account == "AGENT" else account,
                                           since, until)
    assert list(refused.value.errors) == [field]
