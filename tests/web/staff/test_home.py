"""The staff home: a start page per role."""

from __future__ import annotations

import datetime as dt

from consentmgr.requests.services import file_request
from consentmgr.sql import utcnow
from consentmgr.staff.access import view_customer
from consentmgr.staff.accounts import get_staff, staff_actor
from tests.conftest import TEST_ACTOR
from tests.fixtures.staff import create_staff_user, sign_in_as  # noqa: F401


def test_the_agent_sees_search_and_the_records_they_opened_last(
        client, db, create_staff_user, create_customer):
    agent, colleague = create_staff_user("agent", password=None), create_staff_user(
        "agent", password=None)
    mine, theirs = create_customer(), create_customer()
    view_customer(mine.id, actor=staff_actor(get_staff(agent.id)))
    view_customer(theirs.id, actor=staff_actor(get_staff(colleague.id)))
    db.session.commit()
    sign_in_as(client, agent)

    page = client.get("/staff/").get_data(as_text=True)

    assert 'action="/staff/customers"' in page and str(mine.id) in page
    assert str(theirs.id) not in page
    assert "Needs attention today" not in page and "Breach register" not in page


def test_the_dpo_sees_overdue_and_soon_due_requests(
        client, db, create_staff_user, create_customer, publish_policy_files):
    publish_policy_files()
    late, soon = create_customer(), create_customer()
    file_request(late, "erasure", actor=TEST_ACTOR, channel="staff",
                 now=utcnow() - dt.timedelta(days=40))
    file_request(soon, "access", actor=TEST_ACTOR, channel="staff",
                 now=utcnow() - dt.timedelta(days=26))
    db.session.commit()
    sign_in_as(client, create_staff_user("dpo", password=None))

    page = client.get("/staff/").get_data(as_text=True)

    assert "Needs attention today" in page
    assert "Overdue by" in page and "Due in" in page
    assert "Records of processing" in page and "Breach register" in page


def test_the_admin_sees_the_record_but_no_customer_work(client, db, create_staff_user):
    sign_in_as(client, create_staff_user("admin", password=None))
    page = client.get("/staff/").get_data(as_text=True)
    assert "Records of processing" in page
    assert "Your recent work" not in page and "Needs attention today" not in page
