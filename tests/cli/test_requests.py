"""``flask requests list | overdue``: the register for operators and cron, with no personal data."""

from __future__ import annotations

import datetime as dt

import pytest

from consentmgr.actors import Actor
from consentmgr.sql import utcnow

STAFF = Actor("staff", "s1", role="dpo")


@pytest.fixture
def file(db):
    """Creator: ``file(customer, type, received=...)`` files a request through the service."""
    from consentmgr.requests.services import file_request

    def make(customer, type_="erasure", *, received=None):
        req = file_request(customer, type_, actor=STAFF, channel="staff", now=received,
                           auto_approve_erasure=False)
        db.session.commit()
        return req

    return make


def test_list_prints_a_table_of_ids_types_statuses_and_dates(runner, file, create_customer):
    customer = create_customer(name="Unmistakable Name")
    req = file(customer, "rectification",
               received=dt.datetime(2027, 1, 31, 10, tzinfo=dt.timezone.utc))
    result = runner.invoke(args=["requests", "list"])
    assert result.exit_code == 0, result.output
    header, row = result.output.splitlines()[:2]
    assert header.split() == ["ID", "TYPE", "STATUS", "RECEIVED", "DEADLINE"]
    assert row.split()[:5] == [str(req.id), "rectification", "received", "2027-01-31", "2027-02-28"]


def test_list_prints_no_personal_data(runner, file, create_customer):
    customer = create_customer(name="Unmistakable Name")
    file(customer)
    output = runner.invoke(args=["requests", "list"]).output
    assert "Unmistakable" not in output and customer.email not in output
    assert str(customer.id) not in output


def test_list_filters_by_status_and_type(runner, file, create_customer):
    erasure = file(create_customer(), "erasure")
    access = file(create_customer(), "rectification")
    by_type = runner.invoke(args=["requests", "list", "--type", "erasure"]).output
    assert str(erasure.id) in by_type and str(access.id) not in by_type
    none = runner.invoke(args=["requests", "list", "--status", "completed"])
    assert none.exit_code == 0 and none.output.strip() == "No requests."


def test_an_unknown_status_is_a_usage_error(runner):
    result = runner.invoke(args=["requests", "list", "--status", "open"])
    assert result.exit_code == 2 and "received" in result.output


def test_overdue_exits_0_when_nothing_is_late(runner, file, create_customer):
    file(create_customer())
    result = runner.invoke(args=["requests", "overdue"])
    assert result.exit_code == 0, result.output
    assert "No overdue requests." in result.output


def test_overdue_exits_1_and_lists_the_late_requests(runner, file, create_customer):
    late = file(create_customer(), received=utcnow() - dt.timedelta(days=40))
    current = file(create_customer())
    result = runner.invoke(args=["requests", "overdue"])
    assert result.exit_code == 1
    assert "1 overdue request(s):" in result.output
    assert str(late.id) in result.output and str(current.id) not in result.output


def test_overdue_also_lists_requests_due_within_the_given_days(runner, file, create_customer):
    # Received 25 days ago: due in about a week.
    soon = file(create_customer(), received=utcnow() - dt.timedelta(days=25))
    within = runner.invoke(args=["requests", "overdue", "--within-days", "10"])
    assert within.exit_code == 0, within.output
    assert "due within 10 day(s)" in within.output and str(soon.id) in within.output
    narrow = runner.invoke(args=["requests", "overdue", "--within-days", "1"])
    assert str(soon.id) not in narrow.output


def test_closed_requests_are_never_overdue(runner, db, file, create_customer):
    from consentmgr.requests.services import refuse_request

    req = file(create_customer(), received=utcnow() - dt.timedelta(days=40))
    refuse_request(req, actor=STAFF, reason_code="manifestly-unfounded")
    db.session.commit()
    assert runner.invoke(args=["requests", "overdue"]).exit_code == 0
