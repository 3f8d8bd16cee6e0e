""""Who has accessed my data": the portal page lists staff views and reveals of one's own record."""

from __future__ import annotations

import html
import re

import pytest

from consentmgr.actors import Actor
from consentmgr.audit import actions
from consentmgr.audit.services import record
from consentmgr.staff import access_log
from consentmgr.staff.access_log import staff_accesses

ACCESS = "/portal/access"


def view_and_reveal(db, customer, actor: Actor) -> None:
    record(actions.CUSTOMER_VIEW, actor=actor, subject_id=customer.id)
    record(actions.CUSTOMER_REVEAL, actor=actor, subject_id=customer.id, fields=["phone"],
           reason_code="support-ticket", justification="Ticket 4711: caller asked for a callback")
    db.session.commit()


def page_text(client, path: str = ACCESS) -> str:
    response = client.get(path)
    assert response.status_code == 200
    return html.unescape(response.get_data(as_text=True))


def agent_actor(create_staff_user) -> Actor:
    login = create_staff_user("agent", name="Sam Agent", password=None)
    return Actor("staff", login.id, role="agent")


def test_the_page_shows_when_who_in_which_role_which_fields_and_why(client, db, signed_in,
                                                                    create_staff_user):
    view_and_reveal(db, signed_in, agent_actor(create_staff_user))

    page = page_text(client)

    assert "Sam Agent" in page and "Customer service agent" in page
    assert "Revealed your phone number" in page
    assert "You contacted our customer service (a support ticket)" in page
    assert "Looked at your record (details masked)" in page
    assert "UTC" in page


def test_the_staff_members_justification_is_not_shown(client, db, signed_in, create_staff_user):
    view_and_reveal(db, signed_in, agent_actor(create_staff_user))

    assert "Ticket 4711" not in page_text(client)


def test_staff_the_directory_does_not_know_are_shown_as_a_staff_member(client, db, signed_in):
    view_and_reveal(db, signed_in, Actor("staff", "5f0c8e52-0d43-4f4e-9a59-9f1d2b0c3a11",
                                         role="agent"))

    page = page_text(client)

    assert "A staff member" in page and "Customer service agent" in page


def test_other_customers_accesses_are_not_shown(client, db, create_customer, signed_in,
                                                create_staff_user):
    other = create_customer(email="grace@example.org")
    view_and_reveal(db, other, agent_actor(create_staff_user))

    assert "No one on our staff has looked at your record." in page_text(client)


def test_the_customers_own_actions_are_not_staff_access(client, db, signed_in):
    response = client.get("/portal/details")  # the customer looking at their own data

    assert response.status_code == 200
    assert staff_accesses(signed_in.id) == []
    assert "No one on our staff has looked at your record." in page_text(client)


def test_a_long_history_is_listed_a_page_at_a_time_newest_first(client, db, signed_in,
                                                                create_staff_user, monkeypatch):
    monkeypatch.setattr(access_log, "ACCESSES_PER_PAGE", 3)
    actor = agent_actor(create_staff_user)
    for field in ("phone", "name", "email", "postal_address", "date_of_birth"):
        record(actions.CUSTOMER_REVEAL, actor=actor, subject_id=signed_in.id, fields=[field],
               reason_code="support-ticket")
    db.session.commit()

    first = page_text(client)
    older = re.search(r'href="(/portal/access\?before=\d+)" rel="next"', first)
    second = page_text(client, older.group(1))

    assert [f for f in ("date of birth", "postal address", "email address") if f in first] == [
        "date of birth", "postal address", "email address"]
    assert "Revealed your name" not in first and "Newest accesses" not in first
    assert "Revealed your name" in second and "Revealed your phone number" in second
    assert "date of birth" not in second and "Older accesses" not in second
    assert "Newest accesses" in second


def test_the_last_page_is_not_followed_by_an_empty_one(client, db, signed_in, create_staff_user,
                                                       monkeypatch):
    monkeypatch.setattr(access_log, "ACCESSES_PER_PAGE", 2)
    actor = agent_actor(create_staff_user)
    for _ in range(2):
        record(actions.CUSTOMER_VIEW, actor=actor, subject_id=signed_in.id)
    db.session.commit()

    assert "Older accesses" not in page_text(client)


@pytest.mark.parametrize("before", ["abc", "-1", "0", "1e3", "9" * 40, ""])
def test_a_malformed_page_position_is_a_400_page(client, signed_in, before):
    response = client.get(f"{ACCESS}?before={before}")
    assert response.status_code == 400
    assert "text/html" in response.content_type


def test_a_position_past_the_oldest_access_says_so(client, signed_in):
    page = page_text(client, f"{ACCESS}?before=1")
    assert "There are no older accesses." in page
