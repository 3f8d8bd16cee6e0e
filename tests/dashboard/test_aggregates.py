"""The dashboard's daily aggregates against counts worked out by hand.

A small history across four weeks around the 2026-03 policy version
(effective Sunday 2026-03-01): consent choices collected on given days
(the import channel's ``collected_at``), requests received and answered on
given days (the register's ``now=``), and reveals and API calls made with
the audit trail's clock moved to given days.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from consentmgr.actors import Actor
from consentmgr.apiclients.clients import create_client
from consentmgr.audit import actions
from consentmgr.audit import record as audit_record
from consentmgr.audit import services as audit
from consentmgr.consent import ledger
from consentmgr.consent.models import ConsentAction
from consentmgr.dashboard import aggregates as agg
from consentmgr.dashboard.models import AggregateWatermark, DailyAggregate
from consentmgr.dashboard.services import dashboard_report, parse_period, percentile
from consentmgr.errors import ValidationFailed
from consentmgr.requests.decisions import complete_request
from consentmgr.requests.register import file_request
from consentmgr.staff.access import RevealRefused, reveal_field
from tests.conftest import TEST_ACTOR
from tests.fixtures.audit import sequence_audit

UTC = dt.timezone.utc
DPO = Actor("staff", "dpo-1", role="dpo")
TODAY = dt.date(2026, 3, 12)  # a Thursday; the 4-week period starts Monday 16 February
NOW = dt.datetime(2026, 3, 12, 12, tzinfo=UTC)
W1, W2, W3, W4 = (dt.date(2026, 2, 16), dt.date(2026, 2, 23), dt.date(2026, 3, 2),
                  dt.date(2026, 3, 9))


def at(day: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


@pytest.fixture
def clock(monkeypatch):
    """``clock(moment)``: the audit trail records what follows as happening at ``moment``."""
    def move(moment: dt.datetime) -> None:
        monkeypatch.setattr(audit_record, "utcnow", lambda: moment)
    return move


def choose(customer, action: ConsentAction, day: str, version: str, *, gpc: bool = False,
           purpose: str = "personalisation"):
    collected = at(day)
    ledger.record_choice(customer, purpose, action, actor=TEST_ACTOR, channel="import",
                         policy_version=version, collected_at=collected,
                         evidence=ledger.Evidence(gpc=gpc), today=collected.date())


def value(db, metric: str, day: dt.date, dimension: str) -> int:
    return db.session.scalar(sa.select(DailyAggregate.value).where(
        DailyAggregate.metric == metric, DailyAggregate.day == day,
        DailyAggregate.dimension == dimension)) or 0


def refresh(db, now: dt.datetime = NOW) -> agg.RefreshResult:
    sequence_audit(db)  # PostgreSQL: the worker's sequencer places entries after commit
    result = agg.refresh(db.session, now=now)
    db.session.commit()
    return result


def all_rows(db) -> list[tuple]:
    return [tuple(row) for row in db.session.execute(
        sa.select(DailyAggregate.metric, DailyAggregate.day, DailyAggregate.dimension,
                  DailyAggregate.value).order_by(DailyAggregate.metric, DailyAggregate.day,
                                                 DailyAggregate.dimension))]


@pytest.fixture
def consent_history(db, publish_policy_files, create_customer):
    """Four customers' choices for personalisation around the 2026-03 version."""
    publish_policy_files()
    a, b, c, d = (create_customer() for _ in range(4))
    choose(a, ConsentAction.GRANTED, "2026-02-16", "2025-01")
    choose(b, ConsentAction.GRANTED, "2026-02-18", "2025-01")
    choose(c, ConsentAction.REFUSED, "2026-02-19", "2025-01", gpc=True)
    choose(d, ConsentAction.GRANTED, "2026-02-20", "2025-01")
    # The 2026-03 version takes effect on Sunday 1 March.
    choose(a, ConsentAction.WITHDRAWN, "2026-03-03", "2026-03")
    choose(c, ConsentAction.GRANTED, "2026-03-04", "2026-03")
    choose(b, ConsentAction.WITHDRAWN, "2026-03-10", "2026-03")
    db.session.commit()
    return a, b, c, d


def test_consent_choices_count_on_the_day_they_were_made(db, consent_history):
    refresh(db)
    assert value(db, "consent_granted", dt.date(2026, 2, 16), "personalisation") == 1
    assert value(db, "consent_granted", dt.date(2026, 2, 18), "personalisation") == 1
    assert value(db, "consent_refused", dt.date(2026, 2, 19), "personalisation") == 1
    assert value(db, "consent_gpc", dt.date(2026, 2, 19), "personalisation") == 1
    assert value(db, "consent_withdrawn", dt.date(2026, 3, 3), "personalisation") == 1
    assert value(db, "consent_withdrawn", dt.date(2026, 3, 10), "personalisation") == 1


def test_weekly_opt_in_rate_and_withdrawals_around_the_policy_change(db, consent_history):
    refresh(db)
    report = dashboard_report(db.session, today=TODAY, weeks=4, now=NOW)
    assert report.weeks == [W1, W2, W3, W4]
    # Week 1: 3 grants of 4 choices; week 2: none; week 3: 1 grant, 1 withdrawal; week 4: 1 withdrawal.
    assert report.opt_in_rate("personalisation") == [0.75, None, 0.5, 0.0]
    # Pooled with the week before: (3 + 0) / 4, then (0 + 1) / 2, then (1 + 0) / 3.
    assert report.opt_in_rate("personalisation", window=2) == [0.75, 0.75, 0.5, 1 / 3]
    assert report.weekly("consent_withdrawn", "personalisation") == [0, 0, 1, 1]
    assert report.weekly("consent_gpc", "personalisation") == [1, 0, 0, 0]
    [version] = report.versions
    assert (version.label, version.effective_date, version.week) == ("2026-03",
                                                                   dt.date(2026, 3, 1), W2)
    assert (version.withdrawals_before, version.withdrawals_after) == (0, 2)


def test_grants_under_the_older_version_wait_for_renewal(db, consent_history):
    refresh(db)
    report = dashboard_report(db.session, today=TODAY, weeks=4, now=NOW)
    # d still holds a grant given under 2025-01; a and b withdrew; c granted under 2026-03.
    # (personalisation changed materially in 2026-03.)
    assert report.renewals == {"personalisation": 1}


def test_a_refresh_counts_only_what_is_new_and_twice_changes_nothing(db, consent_history,
                                                                     create_customer):
    first = refresh(db)
    assert first.entries > 0 and first.caught_up
    rows = all_rows(db)
    assert refresh(db).entries == 0
    assert all_rows(db) == rows
    late = create_customer()
    choose(late, ConsentAction.GRANTED, "2026-02-16", "2025-01")
    db.session.commit()
    refresh(db)
    assert value(db, "consent_granted", dt.date(2026, 2, 16), "personalisation") == 2


def test_a_rebuild_gives_the_same_counts_as_the_incremental_refreshes(db, consent_history):
    for batch in (1, 3):  # counted in small batches, one refresh after another
        sequence_audit(db)
        while not agg.refresh(db.session, now=NOW, batch=batch, max_batches=1).caught_up:
            pass
        db.session.commit()
        incremental = all_rows(db)
        agg.rebuild(db.session)
        db.session.commit()
        assert all_rows(db) == incremental


def test_a_rebuild_since_a_day_keeps_the_days_before(db, consent_history):
    refresh(db)
    before = all_rows(db)
    db.session.execute(sa.update(DailyAggregate).values(value=99))  # as if miscounted
    db.session.commit()
    agg.rebuild(db.session, since=dt.date(2026, 3, 1))
    db.session.commit()
    rows = {(m, d, dim): v for m, d, dim, v in all_rows(db)}
    assert rows[("consent_granted", dt.date(2026, 2, 16), "personalisation")] == 99
    assert rows[("consent_withdrawn", dt.date(2026, 3, 3), "personalisation")] == 1
    assert {k for k in rows} == {(m, d, dim) for m, d, dim, _ in before}


def test_requests_received_answered_on_time_and_overdue(db, publish_policy_files, create_customer,
                                                        mails):
    publish_policy_files()
    customers = [create_customer() for _ in range(4)]

    def received(customer, kind, day):
        return file_request(customer, kind, actor=DPO, channel="staff", on_behalf=True,
                            identity_check="Passport seen at the counter", now=at(day))

    quick = received(customers[0], "rectification", "2026-02-17")
    complete_request(quick, actor=DPO, outcome="rectified", now=at("2026-02-27"))  # 10 days
    slow = received(customers[1], "rectification", "2026-01-05")
    complete_request(slow, actor=DPO, outcome="rectified", now=at("2026-03-10"))  # 64 days, late
    received(customers[2], "rectification", "2026-03-02")  # open, due 2 April
    received(customers[3], "rectification", "2026-01-20")  # open, due 20 February: overdue
    db.session.commit()
    refresh(db)
    report = dashboard_report(db.session, today=TODAY, weeks=4, now=NOW)
    assert report.weekly("requests_received", "rectification") == [1, 0, 1, 0]
    assert report.weekly("requests_answered", "rectification") == [0, 1, 0, 1]
    assert report.answer_days == {10: 1, 64: 1}
    assert (report.median_answer_days, report.p95_answer_days) == (10, 64)
    assert report.on_time_share == 0.5
    assert report.overdue_now == 1


def test_reveals_by_reason_and_the_staff_member_above_three_times_the_median(
        db, create_customer, clock):
    customer = create_customer()
    staff = [Actor("staff", f"staff-{i}", role="agent") for i in range(4)]
    reveals = [(staff[0], "2026-02-17"), (staff[1], "2026-02-24"), (staff[2], "2026-03-03")]
    reveals += [(staff[3], day) for day in ("2026-03-02", "2026-03-03", "2026-03-04",
                                           "2026-03-09", "2026-03-10", "2026-03-11",
                                           "2026-03-11")]
    for actor, day in reveals:
        clock(at(day))
        reveal_field(customer, "phone", actor=actor, reason_code="customer-request",
                     justification="Caller asked us to confirm the number on file")
    clock(at("2026-03-05"))
    reveal_field(customer, "phone", actor=staff[0], reason_code="fraud-investigation",
                 justification="Chargeback case opened by the payment provider")
    db.session.commit()
    refresh(db)
    report = dashboard_report(db.session, today=TODAY, weeks=4, now=NOW)
    assert report.weekly("reveals_by_reason", "customer-request") == [1, 1, 4, 4]
    assert report.weekly("reveals_by_reason", "fraud-investigation") == [0, 0, 1, 0]
    # Counts 2, 1, 1, 7: median 1.5; 7 > 4.5 is flagged, 2 is not.
    assert report.reveal_median == 1.5
    assert [(s.staff_id, s.count, s.flagged) for s in report.staff_reveals] == [
        ("staff-3", 7, True), ("staff-0", 2, False), ("staff-1", 1, False), ("staff-2", 1, False)]


def test_refused_reveals_are_not_counted(db, create_customer, clock):
    customer = create_customer()
    clock(at("2026-03-03"))
    with pytest.raises(RevealRefused):
        reveal_field(customer, "phone", actor=Actor("staff", "s", role="agent"),
                     reason_code="customer-request", justification="")
    db.session.commit()
    refresh(db)
    assert dashboard_report(db.session, today=TODAY, weeks=4, now=NOW).staff_reveals == []


def test_api_calls_per_client(db, create_customer, clock):
    customer = create_customer()
    shop, _ = create_client("Shop", "customers:read", actor=TEST_ACTOR)
    crm, _ = create_client("CRM", "customers:read", actor=TEST_ACTOR)
    for client, day in ((shop, "2026-02-16"), (shop, "2026-03-10"), (crm, "2026-03-11")):
        clock(at(day))
        audit.record(actions.API_CUSTOMER_READ, actor=Actor("api-client", str(client.id)),
                     subject_id=customer.id)
    db.session.commit()
    refresh(db)
    report = dashboard_report(db.session, today=TODAY, weeks=4, now=NOW)
    assert report.total("api_calls", str(shop.id)) == 2  # a total for the period, not weekly
    assert report.total("api_calls", str(crm.id)) == 1
    assert report.api_clients == {str(shop.id): "Shop", str(crm.id): "CRM"}


def test_an_empty_period_has_an_empty_report(db):
    refresh(db)
    report = dashboard_report(db.session, today=TODAY, weeks=12, now=NOW)
    assert report.is_empty and len(report.weeks) == 12
    assert report.median_answer_days is None and report.on_time_share is None


@pytest.mark.parametrize("raw", ["5", "0", "-4", "abc", "52.0", "9" * 30])
def test_a_period_other_than_4_12_or_52_weeks_is_refused(raw):
    with pytest.raises(ValidationFailed):
        parse_period(raw)


def test_percentiles_use_the_nearest_rank():
    assert percentile({}, 0.5) is None
    assert percentile({1: 1, 2: 1, 3: 1, 4: 1}, 0.5) == 2
    assert percentile({1: 19, 30: 1}, 0.95) == 1
    assert percentile({1: 18, 30: 2}, 0.95) == 30


def test_the_worker_keeps_the_aggregates_up_to_date(db, runner, consent_history):
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    # On PostgreSQL the run sequences the entries after its jobs: the next run counts them.
    runner.invoke(args=["dashboard", "refresh"])
    assert value(db, "consent_withdrawn", dt.date(2026, 3, 3), "personalisation") == 1
    assert db.session.scalar(sa.select(AggregateWatermark.refreshed_at)) is not None


def test_the_refresh_command_counts_and_recounts(db, runner, consent_history):
    sequence_audit(db)
    first = runner.invoke(args=["dashboard", "refresh"])
    assert first.exit_code == 0 and "Counted" in first.output
    rows = all_rows(db)
    assert "Counted 0 new audit entries" in runner.invoke(args=["dashboard", "refresh"]).output
    again = runner.invoke(args=["dashboard", "refresh", "--since", "2026-03-01"])
    assert again.exit_code == 0 and "for days from 2026-02-23" in again.output
    assert all_rows(db) == rows
    assert runner.invoke(args=["dashboard", "refresh", "--full"]).exit_code == 0
    assert all_rows(db) == rows


@pytest.mark.parametrize("args", [["--since", "2026-13-01"], ["--since", "yesterday"],
                                  ["--since", "2026-03-01", "--full"]])
def test_the_refresh_command_refuses_a_bad_date_and_changes_nothing(db, runner, args):
    result = runner.invoke(args=["dashboard", "refresh", *args])
    assert result.exit_code == 2
    assert all_rows(db) == []


def test_demo_load_gives_a_year_of_history_unless_told_not_to(db, runner, publish_policy_files):
    from consentmgr.consent.models import ConsentEvent

    publish_policy_files()
    plain = runner.invoke(args=["demo", "load", "--count", "3", "--no-history"])
    assert plain.exit_code == 0, plain.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ConsentEvent)) == 0
    full = runner.invoke(args=["demo", "load", "--count", "6"])
    assert full.exit_code == 0, full.output
    assert "Demo history:" in full.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ConsentEvent)) > 6


def test_the_renewals_snapshot_is_retaken_after_a_choice_or_on_a_new_day(db, consent_history,
                                                                         create_customer):
    from consentmgr.consent.models import ConsentState

    def report() -> dict[str, int]:
        return dashboard_report(db.session, today=TODAY, weeks=4, now=NOW).renewals

    refresh(db)
    assert report() == {"personalisation": 1}
    # A state changed behind the ledger's back (no audit entry): not noticed the same day ...
    db.session.execute(sa.update(ConsentState).values(status="withdrawn"))
    db.session.commit()
    refresh(db)
    assert report() == {"personalisation": 1}
    # ... but the next day's first refresh retakes it,
    refresh(db, now=NOW + dt.timedelta(days=1))
    assert report() == {}
    # and so does any new choice.
    db.session.execute(sa.update(ConsentState).values(status="given"))
    choose(create_customer(), ConsentAction.GRANTED, "2026-02-20", "2025-01")
    db.session.commit()
    refresh(db, now=NOW + dt.timedelta(days=1))
    assert report() == {"personalisation": 2}
