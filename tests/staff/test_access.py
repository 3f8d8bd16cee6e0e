"""Staff access to records: searches, views and reveals leave entries; values stay masked."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from consentmgr.actors import Actor
from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from consentmgr.customers.services import (
    CustomerErased,
    add_history,
    erase_customer,
    get_customer,
    restrict_processing,
)
from consentmgr.errors import ValidationFailed
from consentmgr.staff import access
from consentmgr.unit_of_work import unit_of_work
from tests.conftest import TEST_ACTOR

AGENT = Actor("staff", "0b6f1c2e-1111-4000-8000-000000000001", "agent")
REASON = {"reason_code": "customer-request",
          "justification": "Caller asked to confirm the details we hold"}


def _entries(db, action: str) -> list[AuditEntry]:
    return list(db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.sequence)))


@pytest.mark.parametrize("by", ["email", "id"])
def test_a_search_is_audited_with_how_and_whether_found_but_not_the_term(db, create_customer, by):
    customer = create_customer(email="searched.person@example.org")
    term = "Searched.Person@example.org" if by == "email" else str(customer.id)

    found = access.find_customer(term, actor=AGENT)
    db.session.commit()

    assert found.id == customer.id
    [entry] = _entries(db, actions.CUSTOMER_SEARCH)
    assert entry.details == {"by": by, "found": True}
    assert entry.subject_id is None
    assert "searched.person" not in repr(entry.as_record()).lower()


def test_a_search_that_finds_nobody_says_so(db):
    assert access.find_customer("nobody@example.org", actor=AGENT) is None
    assert access.find_customer(str(uuid.uuid4()), actor=AGENT) is None

    assert [e.details["found"] for e in _entries(db, actions.CUSTOMER_SEARCH)] == [False, False]


def test_a_search_term_that_is_neither_email_nor_id_is_refused_unaudited(db):
    with pytest.raises(ValidationFailed) as refused:
        access.find_customer("Ada Example", actor=AGENT)

    assert "query" in refused.value.errors
    assert _entries(db, actions.CUSTOMER_SEARCH) == []


def test_opening_a_record_is_audited_with_its_subject(db, create_customer):
    customer = create_customer()

    access.view_customer(customer.id, actor=AGENT, request_id="req-1")

    [entry] = _entries(db, actions.CUSTOMER_VIEW)
    assert (entry.subject_id, entry.fields, entry.request_id) == (customer.id, [], "req-1")


def test_the_masked_record_contains_no_clear_value(db, create_customer):
    customer = create_customer(name="Ada Example", phone="+44 20 7946 0958",
                               email="ada.example@example.org")

    masked = access.masked_record(customer)

    shown = repr(masked)
    for value in ("Ada Example", "7946", "ada.example", "Example Street", "1985"):
        assert value not in shown
    assert {f.name: f.masked for f in masked.fields}["phone"] == "+44 •••• ••58"


def test_a_reveal_with_a_reason_returns_the_value_and_records_why(db, create_customer):
    customer = create_customer(phone="+44 20 7946 0958")

    revealed = access.reveal_field(customer, "phone", actor=AGENT, ticket_reference="SUP-4711",
                                   reason_code="support-ticket",
                                   justification="Customer wants a call back on file number")

    assert revealed.value == "+44 20 7946 0958"
    [entry] = _entries(db, actions.CUSTOMER_REVEAL)
    assert (entry.outcome, entry.fields, entry.reason_code) == (actions.SUCCESS, ["phone"],
                                                               "support-ticket")
    assert entry.justification == "Customer wants a call back on file number"
    assert entry.details == {"ticket": "SUP-4711"}


def test_a_reveal_without_a_reason_is_refused_and_recorded_as_denied(db, create_customer):
    customer = create_customer()

    with pytest.raises(access.RevealRefused) as refused:
        access.reveal_field(customer, "phone", actor=AGENT, reason_code="", justification="")

    assert set(refused.value.errors) == {"reason_code", "justification"}
    [entry] = _entries(db, actions.CUSTOMER_REVEAL)
    assert (entry.outcome, entry.fields, entry.reason_code, entry.justification) == (
        actions.DENIED, ["phone"], None, None)


def test_a_refused_reveal_keeps_its_denied_entry_when_the_unit_of_work_ends(db, create_customer):
    customer = create_customer()

    with pytest.raises(access.RevealRefused), unit_of_work():
        access.reveal_field(customer, "phone", actor=AGENT, reason_code="", justification="")
    db.session.rollback()  # what was not committed would go now

    assert [e.outcome for e in _entries(db, actions.CUSTOMER_REVEAL)] == [actions.DENIED]


def test_a_support_ticket_reason_needs_a_ticket_reference(db, create_customer):
    customer = create_customer()

    with pytest.raises(access.RevealRefused) as refused:
        access.reveal_field(customer, "email", actor=AGENT, reason_code="support-ticket",
                            justification="Customer called about an order")

    assert set(refused.value.errors) == {"ticket_reference"}
    [entry] = _entries(db, actions.CUSTOMER_REVEAL)
    assert entry.outcome == actions.DENIED and entry.reason_code == "support-ticket"


@pytest.mark.parametrize("justification", [
    "Ada Example called about her order",
    "Call back on 020 7946 0958 please",
    "Mail ada.example@example.org the invoice",
])
def test_a_justification_quoting_the_customers_details_is_refused(db, create_customer,
                                                                   justification):
    customer = create_customer(name="Ada Example", phone="+44 20 7946 0958",
                               email="ada.example@example.org")

    with pytest.raises(access.RevealRefused) as refused:
        access.reveal_field(customer, "name", actor=AGENT, reason_code="customer-request",
                            justification=justification)

    assert "justification" in refused.value.errors
    [entry] = _entries(db, actions.CUSTOMER_REVEAL)
    assert entry.justification is None


def test_an_unknown_reason_code_is_refused(db, create_customer):
    with pytest.raises(access.RevealRefused) as refused:
        access.reveal_field(create_customer(), "name", actor=AGENT, reason_code="curiosity",
                            justification="I just wanted to know")

    assert "reason_code" in refused.value.errors


def test_an_unknown_field_cannot_be_revealed(db, create_customer):
    with pytest.raises(access.UnknownField):
        access.reveal_field(create_customer(), "password", actor=AGENT, **REASON)

    assert _entries(db, actions.CUSTOMER_REVEAL) == []


def test_an_erased_record_has_nothing_to_reveal(db, create_customer):
    customer = create_customer()
    erase_customer(customer, actor=TEST_ACTOR)

    with pytest.raises(CustomerErased):
        access.reveal_field(customer, "phone", actor=AGENT, **REASON)


def test_history_summaries_are_revealed_as_one_field(db, create_customer):
    customer = create_customer()
    add_history(customer, {"occurred_at": "2026-05-01T10:00:00+00:00", "channel": "phone",
                           "kind": "support-contact", "data_category": "support",
                           "summary": "Asked about a late parcel"}, actor=TEST_ACTOR)
    db.session.commit()
    customer = get_customer(customer.id, with_history=True)

    assert {f.name: f.masked for f in access.masked_fields(customer)}["history"] == "1 hidden"
    revealed = access.reveal_field(customer, "history", actor=AGENT, **REASON)
    assert [item.summary for item in revealed.value] == ["Asked about a late parcel"]


DPO = Actor("staff", "0b6f1c2e-2222-4000-8000-000000000002", "dpo")
REASON = {"reason_code": "customer-request", "justification": "Caller asked us to read it back"}


def test_a_restricted_record_is_refused_to_an_agent_and_the_refusal_kept(db, create_customer):
    customer = create_customer()
    restrict_processing(customer, actor=TEST_ACTOR)
    db.session.commit()

    with pytest.raises(access.RevealRestricted), unit_of_work():
        access.reveal_field(customer, "phone", actor=AGENT, **REASON)
    db.session.rollback()

    [entry] = _entries(db, actions.CUSTOMER_REVEAL)
    assert (entry.outcome, entry.fields, entry.details) == (
        actions.DENIED, ["phone"], {"refused_for": "restricted"})


def test_the_dpo_may_still_reveal_a_restricted_record(db, create_customer):
    customer = create_customer(phone="+44 20 7946 0958")
    restrict_processing(customer, actor=TEST_ACTOR)

    revealed = access.reveal_field(customer, "phone", actor=DPO, **REASON)

    assert revealed.value == "+44 20 7946 0958"
    assert [e.outcome for e in _entries(db, actions.CUSTOMER_REVEAL)] == [actions.SUCCESS]
