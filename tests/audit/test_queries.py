"""Reading the audit trail: one customer's entries, the DPO's search, the change feed's entries."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import time_machine

from consentmgr.actors import Actor
from consentmgr.audit import actions
from consentmgr.audit.services import (
    count_entries,
    entries_for_customer,
    feed_entries,
    record,
    search_entries,
)
from consentmgr.errors import ValidationFailed
from tests.audit.helpers import AGENT
from tests.fixtures.audit import sequence_audit

DPO = Actor("staff", "5b0f3c1e-0000-4000-8000-000000000002", "dpo")


def test_entries_for_customer_lists_only_that_customer_newest_first(db, record_entries):
    customer, other = uuid.uuid4(), uuid.uuid4()
    record_entries(1, subject_id=customer, action=actions.CUSTOMER_VIEW)
    record_entries(1, subject_id=other, action=actions.CUSTOMER_VIEW)
    record_entries(1, subject_id=customer, action=actions.CUSTOMER_REVEAL, fields=["phone"])
    record_entries(1, subject_id=customer, action=actions.CUSTOMER_RECTIFIED, fields=["name"])
    found = entries_for_customer(customer)
    assert [e.sequence for e in found] == [4, 3, 1]


def test_entries_for_customer_can_be_limited_to_staff_access(db, record_entries):
    customer = uuid.uuid4()
    record_entries(1, subject_id=customer, action=actions.CUSTOMER_VIEW)
    record_entries(1, subject_id=customer, action=actions.CONSENT_GRANTED)
    record_entries(1, subject_id=customer, action=actions.CUSTOMER_REVEAL, fields=["phone"])
    found = entries_for_customer(str(customer), actions=actions.STAFF_ACCESS_ACTIONS)
    assert [(e.action, e.fields) for e in found] == [("customer.reveal", ["phone"]),
                                                    ("customer.view", [])]


def test_search_filters_by_actor_subject_and_action_prefix(db, record_entries):
    customer = uuid.uuid4()
    record_entries(1, subject_id=customer, action="request.received")
    record_entries(1, subject_id=customer, action="request.completed", actor=DPO)
    record_entries(1, subject_id=customer, action=actions.CUSTOMER_VIEW)
    record_entries(1, action="request.received")
    assert [e.sequence for e in search_entries(subject_id=customer, action="request.*")] == [2, 1]
    assert [e.sequence for e in search_entries(actor_id=DPO.id)] == [2]
    assert [e.sequence for e in search_entries(action=actions.CUSTOMER_VIEW)] == [3]
    assert count_entries(action="request.*") == 3


def test_search_treats_like_wildcards_in_the_action_literally(db, record_entries):
    record_entries(1, action="customer.view")
    assert search_entries(action="customer_view*") == []


def test_search_by_date_includes_both_whole_utc_days(db, record_entries):
    for day in (1, 2, 3, 4):
        with time_machine.travel(dt.datetime(2026, 5, day, 23, 59, 59, tzinfo=dt.timezone.utc), tick=False):
            record_entries(1)
    found = search_entries(since=dt.date(2026, 5, 2), until=dt.date(2026, 5, 3))
    assert [e.sequence for e in found] == [3, 2]


def test_search_pages_newest_first(db, record_entries):
    record_entries(5)
    assert [e.sequence for e in search_entries(limit=2, offset=1)] == [4, 3]


@pytest.mark.parametrize(
    "arguments, field",
    [
        ({"subject_id": "nope"}, "subject_id"),
        ({"since": dt.date(2026, 5, 3), "until": dt.date(2026, 5, 2)}, "until"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"offset": -1}, "offset"),
    ],
)
def test_bad_search_is_a_clear_validation_error(db, arguments, field):
    with pytest.raises(ValidationFailed) as caught:
        search_entries(**arguments)
    assert field in caught.value.errors


def test_feed_entries_are_successful_feed_actions_after_the_cursor_oldest_first(db):
    customer = uuid.uuid4()
    record(actions.CONSENT_GRANTED, actor=AGENT, subject_id=customer)  # 1
    record(actions.CUSTOMER_VIEW, actor=AGENT, subject_id=customer)  # 2: not a feed action
    record(actions.CUSTOMER_ERASED, actor=AGENT, subject_id=customer,
           outcome=actions.FAILURE)  # 3: did not happen
    record(actions.CUSTOMER_RESTRICTED, actor=AGENT, subject_id=customer)  # 4
    record(actions.CONSENT_WITHDRAWN, actor=AGENT, subject_id=customer)  # 5
    sequence_audit(db)
    assert [e.sequence for e in feed_entries()] == [1, 4, 5]
    assert [e.sequence for e in feed_entries(after=1, limit=1)] == [4]
    assert [e.sequence for e in feed_entries(actions=[actions.CONSENT_WITHDRAWN])] == [5]
    assert feed_entries(after=5) == []


@pytest.mark.parametrize("limit", [0, 1001])
def test_feed_page_size_outside_1_to_1000_is_refused(db, limit):
    with pytest.raises(ValidationFailed) as caught:
        feed_entries(limit=limit)
    assert "limit" in caught.value.errors
