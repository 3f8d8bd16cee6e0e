""""Who has accessed my data": every staff view and reveal of the customer's own record."""

from __future__ import annotations

import html
import sys
import uuid
from dataclasses import dataclass

import pytest

from consentmgr.actors import Actor
from consentmgr.audit import actions
from consentmgr.audit.services import record
from consentmgr.customers.access_log import UNNAMED_STAFF, staff_accesses

ACCESS = "/portal/access"
AGENT_ID = str(uuid.uuid4())
AGENT = Actor("staff", AGENT_ID, role="agent")


@dataclass(frozen=True)
class Card:
    """What the staff directory returns (consentmgr.staff.services.StaffCard)."""

    display_name: str
    role: str


@pytest.fixture
def directory(monkeypatch):
    """The staff directory knows the agent as "Sam Agent"."""
    import consentmgr.staff.services as staff_services

    asked: list[list[str]] = []

    def staff_directory(staff_ids):
        asked.append(list(staff_ids))
        return {AGENT_ID: Card("Sam Agent", "agent")}

    monkeypatch.setattr(staff_services, "staff_directory", staff_directory)
    return asked


@pytest.fixture
def no_staff_area(monkeypatch):
    """As before the staff area existed: importing it fails."""
    monkeypatch.setitem(sys.modules, "consentmgr.staff.services", None)


def view_and_reveal(db, customer) -> None:
    record(actions.CUSTOMER_VIEW, actor=AGENT, subject_id=customer.id)
    record(actions.CUSTOMER_REVEAL, actor=AGENT, subject_id=customer.id, fields=["phone"],
           reason_code="support-ticket", justification="Ticket 4711: caller asked for a callback")
    db.session.commit()


def page_text(client) -> str:
    response = client.get(ACCESS)
    assert response.status_code == 200
    return html.unescape(response.get_data(as_text=True))


def test_views_and_reveals_are_listed_newest_first(db, signed_in, directory):
    view_and_reveal(db, signed_in)

    accesses = staff_accesses(signed_in.id)

    assert [a.action for a in accesses] == [actions.CUSTOMER_REVEAL, actions.CUSTOMER_VIEW]
    assert accesses[0].fields == ("phone",) and accesses[0].reason_code == "support-ticket"


def test_the_page_shows_when_who_in_which_role_which_fields_and_why(client, db, signed_in,
                                                                    directory):
    view_and_reveal(db, signed_in)

    page = page_text(client)

    assert "Sam Agent" in page and "Customer service agent" in page
    assert "Revealed your phone number" in page
    assert "You contacted our customer service (a support ticket)" in page
    assert "Looked at your record (details masked)" in page
    assert "UTC" in page


def test_the_staff_members_justification_is_not_shown(client, db, signed_in, directory):
    view_and_reveal(db, signed_in)

    assert "Ticket 4711" not in page_text(client)


def test_without_the_staff_directory_the_role_comes_from_the_audit_entry(client, db, signed_in,
                                                                         no_staff_area):
    view_and_reveal(db, signed_in)

    page = page_text(client)

    assert "A staff member" in page and "Customer service agent" in page
    assert staff_accesses(signed_in.id)[0].staff_name == UNNAMED_STAFF


def test_other_customers_accesses_are_not_shown(client, db, create_customer, signed_in, directory):
    other = create_customer(email="grace@example.org")
    view_and_reveal(db, other)

    assert "No one on our staff has looked at your record." in page_text(client)


def test_refused_reveals_are_not_listed(db, signed_in, directory):
    record(actions.CUSTOMER_REVEAL, actor=AGENT, subject_id=signed_in.id, fields=["phone"],
           outcome=actions.DENIED)
    db.session.commit()

    assert staff_accesses(signed_in.id) == []


def test_the_customers_own_actions_are_not_staff_access(client, db, signed_in, directory):
    response = client.get("/portal/details")  # the customer looking at their own data

    assert response.status_code == 200
    assert staff_accesses(signed_in.id) == []
