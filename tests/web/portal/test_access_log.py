""""Who has accessed my data": the portal page lists staff views and reveals of one's own record."""

from __future__ import annotations

import html

from consentmgr.actors import Actor
from consentmgr.audit import actions
from consentmgr.audit.services import record
from consentmgr.staff.access_log import staff_accesses

ACCESS = "/portal/access"


def view_and_reveal(db, customer, actor: Actor) -> None:
    record(actions.CUSTOMER_VIEW, actor=actor, subject_id=customer.id)
    record(actions.CUSTOMER_REVEAL, actor=actor, subject_id=customer.id, fields=["phone"],
           reason_code="support-ticket", justification="Ticket 4711: caller asked for a callback")
    db.session.commit()


def page_text(client) -> str:
    response = client.get(ACCESS)
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
