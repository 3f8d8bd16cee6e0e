""""Who has accessed my data" read model: staff views and reveals of one customer's record."""

from __future__ import annotations

import uuid

import pytest

from consentmgr.actors import Actor
from consentmgr.audit import actions
from consentmgr.audit.services import record
from consentmgr.staff import access
from consentmgr.staff.access import RevealReason
from consentmgr.staff.access_log import (
    FIELD_TEXT,
    REASON_TEXT,
    ROLE_TEXT,
    UNNAMED_STAFF,
    StaffAccess,
    staff_accesses,
)
from consentmgr.staff.models import StaffRole


def staff_of(login) -> Actor:
    return Actor("staff", login.id, role=login.role)


def view_and_reveal(db, customer, actor: Actor) -> None:
    record(actions.CUSTOMER_VIEW, actor=actor, subject_id=customer.id)
    record(actions.CUSTOMER_REVEAL, actor=actor, subject_id=customer.id, fields=["phone"],
           reason_code=RevealReason.SUPPORT_TICKET,
           justification="Ticket 4711: caller asked for a callback")
    db.session.commit()


def access_with(**changes) -> StaffAccess:
    values = dict(occurred_at=None, action=actions.CUSTOMER_REVEAL, staff_name="Sam",
                  staff_role=None, fields=(), reason_code=None)
    return StaffAccess(**{**values, **changes})


def test_views_and_reveals_are_listed_newest_first(db, create_customer, create_staff_user):
    customer, agent = create_customer(), create_staff_user("agent", name="Sam Agent")
    view_and_reveal(db, customer, staff_of(agent))

    accesses = staff_accesses(customer.id)

    assert [a.action for a in accesses] == [actions.CUSTOMER_REVEAL, actions.CUSTOMER_VIEW]
    assert accesses[0].fields == ("phone",) and accesses[0].reason_code == "support-ticket"


def test_staff_are_named_and_their_role_read_from_the_staff_directory(db, create_customer,
                                                                      create_staff_user):
    customer, dpo = create_customer(), create_staff_user("dpo", name="Dana Officer")
    # The entry says "agent": the directory knows better (the role changed since).
    view_and_reveal(db, customer, Actor("staff", dpo.id, role="agent"))

    [reveal, view] = staff_accesses(customer.id)

    assert (reveal.staff_name, reveal.role_text) == ("Dana Officer", "Data protection officer")
    assert view.staff_name == "Dana Officer"


def test_staff_the_directory_does_not_know_are_unnamed_with_the_recorded_role(db,
                                                                               create_customer):
    customer = create_customer()
    view_and_reveal(db, customer, Actor("staff", str(uuid.uuid4()), role="agent"))

    [reveal, _] = staff_accesses(customer.id)

    assert reveal.staff_name == UNNAMED_STAFF and reveal.role_text == "Customer service agent"


def test_refused_reveals_are_not_listed(db, create_customer, create_staff_user):
    customer, agent = create_customer(), create_staff_user("agent")
    record(actions.CUSTOMER_REVEAL, actor=staff_of(agent), subject_id=customer.id,
           fields=["phone"], outcome=actions.DENIED)
    db.session.commit()

    assert staff_accesses(customer.id) == []


def test_other_customers_accesses_are_not_listed(db, create_customer, create_staff_user):
    customer, other = create_customer(), create_customer()
    view_and_reveal(db, other, staff_of(create_staff_user("agent")))

    assert staff_accesses(customer.id) == []


@pytest.mark.parametrize("reason", list(RevealReason))
def test_every_reveal_reason_has_words_for_the_customer(reason):
    assert REASON_TEXT[reason] == access_with(reason_code=reason.value).reason_text


@pytest.mark.parametrize("role", list(StaffRole))
def test_every_staff_role_has_words_for_the_customer(role):
    assert ROLE_TEXT[role] == access_with(staff_role=role.value).role_text


def test_every_field_staff_can_reveal_has_words_for_the_customer():
    assert set(FIELD_TEXT) == set(access.FIELDS)


def test_codes_no_enum_knows_any_more_are_still_said_in_words():
    old = access_with(staff_role="night-shift", reason_code="audit_sample")

    assert (old.role_text, old.reason_text) == ("Night shift", "Audit sample")


def test_a_view_needs_no_reason_and_an_unknown_role_is_a_staff_member():
    view = access_with(action=actions.CUSTOMER_VIEW)

    assert (view.is_reveal, view.reason_text, view.role_text) == (False, None, "Staff member")
