"""Life cycles: approve, complete, refuse, extend, withdraw, objections, lifting a restriction."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
import time_machine

from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from consentmgr.consent.services import check_consent, object_to_processing
from consentmgr.customers.models import CustomerStatus
from consentmgr.errors import ValidationFailed
from consentmgr.policies.services import publish_policies
from consentmgr.requests import services
from consentmgr.requests.models import RefusalReason, RequestStatus
from tests.conftest import TEST_ACTOR
from tests.policies.policy_files import valid_front_matter, write_policy
from tests.requests.conftest import AGENT, DPO

UTC = dt.timezone.utc


def statuses(db) -> list[tuple[str, str]]:
    return [(e.action, e.details["status"]) for e in db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action.startswith(actions.REQUEST_PREFIX))
        .order_by(AuditEntry.sequence))]


# --- rectification -----------------------------------------------------------


def test_rectification_is_taken_up_then_completed_by_staff(db, customer, me, outbox):
    req = services.file_request(customer, "rectification", actor=me, channel="portal")
    services.approve_request(req, actor=AGENT)
    assert req.status == RequestStatus.IN_PROGRESS
    services.complete_request(req, actor=AGENT, outcome="rectified", note="Fixed order address")
    assert req.status == RequestStatus.COMPLETED and req.outcome == "rectified"
    assert req.notes == "Fixed order address"
    assert statuses(db) == [(actions.REQUEST_RECEIVED, "received"),
                            (actions.REQUEST_STARTED, "in-progress"),
                            (actions.REQUEST_COMPLETED, "completed")]


def test_an_outcome_must_be_a_short_code(db, customer, me, outbox):
    req = services.file_request(customer, "rectification", actor=me, channel="portal")
    with pytest.raises(ValidationFailed) as caught:
        services.complete_request(req, actor=AGENT, outcome="Fixed it for Ada!")
    assert set(caught.value.errors) == {"outcome"}


def test_an_erasure_is_not_completed_by_hand(db, customer, me, outbox):
    req = services.file_request(customer, "erasure", actor=me, channel="portal")
    with pytest.raises(services.WrongRequestState):
        services.complete_request(req, actor=DPO, outcome="erased")
    assert customer.status == CustomerStatus.ACTIVE


# --- closed requests ---------------------------------------------------------


@pytest.mark.parametrize("close", ["complete", "refuse", "withdraw"])
def test_a_closed_request_refuses_every_further_step(db, customer, me, outbox, close):
    req = services.file_request(customer, "rectification", actor=me, channel="portal")
    if close == "complete":
        services.complete_request(req, actor=AGENT, outcome="rectified")
    elif close == "refuse":
        services.refuse_request(req, actor=DPO, reason_code="manifestly-unfounded")
    else:
        services.withdraw_request(req, actor=me)
    steps = [
        lambda: services.approve_request(req, actor=DPO),
        lambda: services.complete_request(req, actor=AGENT, outcome="rectified"),
        lambda: services.refuse_request(req, actor=DPO, reason_code="other", explanation="x"),
        lambda: services.extend_request(req, actor=DPO, months=1, reason="Complex"),
        lambda: services.withdraw_request(req, actor=me),
    ]
    for step in steps:
        with pytest.raises(services.RequestClosed) as caught:
            step()
        assert caught.value.status == 409


def test_approving_a_completed_request_is_a_conflict(db, customer, me, outbox):
    req = services.file_request(customer, "access", actor=me, channel="portal")
    assert req.status == RequestStatus.COMPLETED
    with pytest.raises(services.RequestClosed) as caught:
        services.approve_request(req, actor=DPO)
    assert caught.value.status == 409


# --- refusal -----------------------------------------------------------------


def test_a_refusal_records_its_reason_code(db, customer, me, outbox):
    req = services.file_request(customer, "erasure", actor=me, channel="portal")
    services.refuse_request(req, actor=DPO, reason_code=RefusalReason.LEGAL_CLAIMS,
                            explanation="Open court case about order 1234")
    assert req.status == RequestStatus.REFUSED and req.refusal_reason == "legal-claims"
    assert req.explanation == "Open court case about order 1234"
    assert req.completed_at is not None and req.handled_by == str(DPO)
    assert statuses(db)[-1] == (actions.REQUEST_REJECTED, "refused")
    assert customer.status == CustomerStatus.ACTIVE


@pytest.mark.parametrize("code, explanation, field", [
    ("because", None, "reason_code"), (None, None, "reason_code"),
    ("other", None, "explanation"), ("other", "   ", "explanation"),
])
def test_a_refusal_needs_a_known_reason_and_other_needs_an_explanation(
        db, customer, me, outbox, code, explanation, field):
    req = services.file_request(customer, "erasure", actor=me, channel="portal")
    with pytest.raises(ValidationFailed) as caught:
        services.refuse_request(req, actor=DPO, reason_code=code, explanation=explanation)
    assert set(caught.value.errors) == {field}
    assert req.status == RequestStatus.RECEIVED


# --- extension ---------------------------------------------------------------


def _received_31_january(customer, me):
    with time_machine.travel(dt.datetime(2028, 1, 31, 10, 0, tzinfo=UTC), tick=False):
        return services.file_request(customer, "rectification", actor=me, channel="portal")


def test_an_extension_adds_calendar_months_from_receipt(db, customer, me, outbox):
    req = _received_31_january(customer, me)
    with time_machine.travel(dt.datetime(2028, 2, 10, tzinfo=UTC), tick=False):
        services.extend_request(req, actor=DPO, months=1, reason="Records in three systems")
    assert req.extended_due_at == dt.datetime(2028, 3, 31, 10, 0, tzinfo=UTC)
    assert req.deadline == req.extended_due_at and req.extension_reason == "Records in three systems"
    assert services.extension_months(req) == 1
    with time_machine.travel(dt.datetime(2028, 2, 20, tzinfo=UTC), tick=False):
        services.extend_request(req, actor=DPO, months=1, reason="And a fourth")
    assert req.extended_due_at == dt.datetime(2028, 4, 30, 10, 0, tzinfo=UTC)
    assert statuses(db)[-1] == (actions.REQUEST_EXTENDED, "received")


def test_an_extension_is_at_most_two_further_months_in_total(db, customer, me, outbox):
    req = _received_31_january(customer, me)
    now = dt.datetime(2028, 2, 1, tzinfo=UTC)
    with pytest.raises(ValidationFailed) as caught:
        services.extend_request(req, actor=DPO, months=3, reason="Complex", now=now)
    assert set(caught.value.errors) == {"months"}
    services.extend_request(req, actor=DPO, months=2, reason="Complex", now=now)
    with pytest.raises(ValidationFailed):
        services.extend_request(req, actor=DPO, months=1, reason="Even more complex", now=now)
    assert req.extended_due_at == dt.datetime(2028, 4, 30, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("months", [0, -1, "2", True])
def test_an_extension_needs_a_whole_number_of_months(db, customer, me, outbox, months):
    req = _received_31_january(customer, me)
    with pytest.raises(ValidationFailed) as caught:
        services.extend_request(req, actor=DPO, months=months, reason="Complex",
                                now=dt.datetime(2028, 2, 1, tzinfo=UTC))
    assert set(caught.value.errors) == {"months"}


def test_an_extension_needs_a_reason(db, customer, me, outbox):
    req = _received_31_january(customer, me)
    with pytest.raises(ValidationFailed) as caught:
        services.extend_request(req, actor=DPO, months=1, reason=" ",
                                now=dt.datetime(2028, 2, 1, tzinfo=UTC))
    assert set(caught.value.errors) == {"reason"}
    assert req.extended_due_at is None


def test_an_extension_after_the_first_deadline_is_too_late(db, customer, me, outbox):
    req = _received_31_january(customer, me)
    with pytest.raises(services.ExtensionTooLate) as caught:
        services.extend_request(req, actor=DPO, months=1, reason="Complex",
                                now=dt.datetime(2028, 2, 29, 10, 0, tzinfo=UTC))
    assert caught.value.status == 409


# --- withdrawal --------------------------------------------------------------


def test_the_customer_can_withdraw_an_open_request(db, customer, me, outbox):
    req = services.file_request(customer, "erasure", actor=me, channel="portal")
    services.withdraw_request(req, actor=me)
    assert req.status == RequestStatus.WITHDRAWN and not req.is_open
    assert statuses(db)[-1] == (actions.REQUEST_WITHDRAWN, "withdrawn")
    assert customer.status == CustomerStatus.ACTIVE


# --- objection ---------------------------------------------------------------


def test_an_objection_stops_processing_at_once_and_waits_for_the_dpo(db, customer, me, outbox):
    req = services.file_request(customer, "objection", actor=me, channel="portal",
                                purpose="fraud-prevention")
    assert req.status == RequestStatus.IN_PROGRESS and req.purpose == "fraud-prevention"
    assert check_consent(customer.id, "fraud-prevention").status == "objected"
    services.decide_objection(req, actor=DPO, upheld=True, reason=None)
    assert req.status == RequestStatus.COMPLETED and req.outcome == "objection-upheld"


def test_compelling_grounds_need_a_reason_that_is_recorded(db, customer, me, outbox):
    req = services.file_request(customer, "objection", actor=me, channel="portal",
                                purpose="fraud-prevention")
    with pytest.raises(ValidationFailed) as caught:
        services.decide_objection(req, actor=DPO, upheld=False, reason="")
    assert set(caught.value.errors) == {"reason"}
    services.decide_objection(req, actor=DPO, upheld=False,
                              reason="Three chargebacks on this account in 2026")
    assert req.outcome == "compelling-grounds"
    assert req.explanation == "Three chargebacks on this account in 2026"
    assert "Three chargebacks" in outbox[-1][2]


def test_an_objection_already_in_the_ledger_is_not_recorded_twice(db, customer, me, outbox):
    object_to_processing(customer, "analytics", actor=me, channel="portal")
    services.file_request(customer, "objection", actor=me, channel="portal", purpose="analytics")
    count = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action == actions.CONSENT_OBJECTED))
    assert count == 1


def test_only_an_objection_is_decided_as_one(db, customer, me, outbox):
    req = services.file_request(customer, "rectification", actor=me, channel="portal")
    with pytest.raises(services.WrongRequestState):
        services.decide_objection(req, actor=DPO, upheld=True, reason=None)


def test_an_objection_to_direct_marketing_is_absolute_and_completes_at_once(
        db, create_customer, tmp_path, outbox):
    document = valid_front_matter()
    document["purposes"].append({
        "slug": "postal-offers", "title": "Offers by post", "description": "Catalogues.",
        "legal_basis": "legitimate-interest", "interest": "Telling customers about offers.",
        "data_categories": ["contact"], "retention": "Until you object.", "recipients": [],
        "transfers": [], "sale_or_share": False, "direct_marketing": True})
    write_policy(tmp_path, document)
    publish_policies(tmp_path, actor=TEST_ACTOR)
    customer = create_customer()
    req = services.file_request(customer, "objection", actor=TEST_ACTOR, channel="api",
                                purpose="postal-offers")
    assert req.status == RequestStatus.COMPLETED and req.outcome == "objection-upheld"
    assert check_consent(customer.id, "postal-offers").allowed is False


# --- restriction ------------------------------------------------------------


def test_lifting_a_restriction_tells_the_customer_first(db, customer, me, outbox):
    services.file_request(customer, "restriction", actor=me, channel="portal")
    outbox.clear()
    assert services.lift_restriction_request(customer, actor=DPO) is True
    assert customer.status == CustomerStatus.ACTIVE
    [(to, subject, body)] = outbox
    assert to == customer.email and "lifting the restriction" in subject
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(
        AuditEntry.action == actions.CUSTOMER_UNRESTRICTED)) == 1


def test_lifting_without_a_restriction_changes_nothing_and_mails_nobody(db, customer, outbox):
    assert services.lift_restriction_request(customer, actor=DPO) is False
    assert outbox == []


def test_a_second_restriction_request_while_one_is_open_is_a_conflict(db, customer, outbox):
    services.file_request(customer, "restriction", actor=AGENT, channel="staff", on_behalf=True)
    with pytest.raises(services.DuplicateRequest):
        services.file_request(customer, "restriction", actor=AGENT, channel="staff",
                              on_behalf=True)


def test_a_restriction_filed_for_a_caller_takes_effect_once_identity_is_verified(
        db, customer, outbox):
    req = services.file_request(customer, "restriction", actor=AGENT, channel="staff",
                                on_behalf=True)
    assert customer.status == CustomerStatus.ACTIVE
    services.verify_identity(req, actor=AGENT, identity_check="Security question answered")
    assert customer.status == CustomerStatus.RESTRICTED and req.outcome == "restricted"
