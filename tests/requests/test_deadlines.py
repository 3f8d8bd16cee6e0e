"""Deadlines in calendar months (GDPR Art. 12(3)), across month ends and leap years."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from consentmgr.requests.deadlines import MAX_EXTENSION_MONTHS, add_months, due_date, latest_extension
from consentmgr.requests.models import RequestType
from consentmgr.requests.services import file_request
from tests.requests.conftest import DPO

UTC = dt.timezone.utc


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize("received, due", [
    ("2026-01-31 09:30", "2026-02-28 09:30"),  # common year: the last day of February
    ("2028-01-31 09:30", "2028-02-29 09:30"),  # leap year
    ("2028-01-29 09:30", "2028-02-29 09:30"),
    ("2026-03-31 00:00", "2026-04-30 00:00"),  # 30-day month
    ("2026-12-15 12:00", "2027-01-15 12:00"),  # across the year end
    ("2026-02-28 08:00", "2026-03-28 08:00"),  # not the end of March: the same day number
])
def test_a_request_is_due_one_calendar_month_after_receipt(received, due):
    assert due_date(at(received)) == at(due)


def test_adding_months_clips_to_the_last_day_and_does_not_drift():
    start = at("2026-01-31 10:00")
    assert [add_months(start, n).date().isoformat() for n in range(1, 5)] == [
        "2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31"]


def test_adding_months_keeps_the_time_zone():
    assert add_months(at("2026-01-31 10:00"), 1).tzinfo is UTC


def test_the_latest_extended_deadline_is_three_months_after_receipt():
    assert MAX_EXTENSION_MONTHS == 2
    assert latest_extension(at("2025-11-30 10:00")) == at("2026-02-28 10:00")


def test_a_request_filed_on_31_january_of_a_leap_year_is_due_on_29_february(db, customer, outbox):
    with time_machine.travel(dt.datetime(2028, 1, 31, 16, 45, tzinfo=UTC), tick=False):
        req = file_request(customer, RequestType.RECTIFICATION, actor=DPO, channel="staff",
                           on_behalf=True, identity_check="Called back on the number on file")
    assert req.received_at == at("2028-01-31 16:45")
    assert req.due_at == at("2028-02-29 16:45")
    assert req.deadline == req.due_at


def test_a_request_filed_on_31_january_of_a_common_year_is_due_on_28_february(db, customer, outbox):
    with time_machine.travel(dt.datetime(2027, 1, 31, 23, 59, tzinfo=UTC), tick=False):
        req = file_request(customer, "rectification", actor=DPO, channel="staff",
                           on_behalf=True, identity_check="Asked the security question")
    assert req.due_at == at("2027-02-28 23:59")


def test_a_request_becomes_overdue_after_its_deadline(db, customer, outbox):
    with time_machine.travel(dt.datetime(2026, 1, 31, 12, 0, tzinfo=UTC), tick=False):
        req = file_request(customer, "rectification", actor=DPO, channel="staff", on_behalf=True,
                           identity_check="Known caller")
    with time_machine.travel(dt.datetime(2026, 2, 28, 11, 59, tzinfo=UTC), tick=False):
        assert not req.is_overdue()
    with time_machine.travel(dt.datetime(2026, 2, 28, 12, 1, tzinfo=UTC), tick=False):
        assert req.is_overdue()
