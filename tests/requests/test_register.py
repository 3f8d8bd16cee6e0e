"""Filing requests, finding them, and the DPO's queue."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa

from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from consentmgr.customers import services as customers
from consentmgr.customers.models import CustomerStatus
from consentmgr.errors import Conflict, NotFound, ValidationFailed
from consentmgr.requests import services
from consentmgr.requests.models import DataSubjectRequest, RequestStatus, RequestType
from tests.conftest import TEST_ACTOR
from tests.requests.conftest import AGENT, DPO

UTC = dt.timezone.utc


def entries(db, action: str) -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)
                                   .order_by(AuditEntry.sequence)))


def test_filing_records_the_request_with_its_deadline_and_an_audit_entry(db, customer, me, outbox):
    req = services.file_request(customer, "rectification", actor=me, channel="portal",
                                notes="My order 1234 shows the wrong address")
    db.session.commit()
    assert req.status == RequestStatus.RECEIVED and req.channel == "portal"
    assert req.due_at == services.due_date(req.received_at)
    assert req.notes == "My order 1234 shows the wrong address"
    [entry] = entries(db, actions.REQUEST_RECEIVED)
    assert entry.subject_id == customer.id
    assert entry.details == {"request_id": str(req.id), "type": "rectification",
                             "status": "received"}


def test_the_notes_are_stored_encrypted(db, customer, me, outbox):
    req = services.file_request(customer, "rectification", actor=me, channel="portal",
                                notes="MARKER-NOTE-42")
    db.session.commit()
    raw = db.session.execute(sa.text("SELECT notes FROM data_subject_requests")).scalar_one()
    assert raw is not None and b"MARKER-NOTE-42" not in bytes(raw)
    assert services.get_request(req.id).notes == "MARKER-NOTE-42"


def test_an_unknown_type_is_refused_and_nothing_is_recorded(db, customer, me, outbox):
    with pytest.raises(ValidationFailed) as caught:
        services.file_request(customer, "forget-me-maybe", actor=me, channel="portal")
    assert set(caught.value.errors) == {"type"} and caught.value.status == 422
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DataSubjectRequest)) == 0
    assert outbox == []


def test_an_unknown_channel_is_refused(db, customer, me):
    with pytest.raises(ValidationFailed) as caught:
        services.file_request(customer, "access", actor=me, channel="carrier-pigeon")
    assert set(caught.value.errors) == {"channel"}


def test_an_erased_customer_cannot_file_a_request(db, customer, me):
    customers.erase_customer(customer, actor=TEST_ACTOR)
    with pytest.raises(services.CustomerErased) as caught:
        services.file_request(customer, "access", actor=me, channel="portal")
    assert caught.value.status == 409


def test_a_second_open_erasure_request_is_a_conflict(db, customer, me, outbox):
    services.file_request(customer, "erasure", actor=me, channel="portal")
    with pytest.raises(services.DuplicateRequest) as caught:
        services.file_request(customer, "erasure", actor=me, channel="api")
    assert isinstance(caught.value, Conflict) and caught.value.status == 409


def test_after_a_withdrawn_erasure_request_a_new_one_may_be_filed(db, customer, me, outbox):
    first = services.file_request(customer, "erasure", actor=me, channel="portal")
    services.withdraw_request(first, actor=me)
    second = services.file_request(customer, "erasure", actor=me, channel="portal")
    assert second.status == RequestStatus.RECEIVED


def test_only_an_objection_names_a_purpose(db, customer, me):
    with pytest.raises(ValidationFailed) as caught:
        services.file_request(customer, "access", actor=AGENT, channel="staff", purpose="analytics")
    assert set(caught.value.errors) == {"purpose"}


@pytest.mark.parametrize("purpose", [None, "no-such-purpose", "marketing-email", "account"])
def test_an_objection_needs_a_legitimate_interest_purpose_in_effect(db, customer, me, purpose):
    with pytest.raises(ValidationFailed) as caught:
        services.file_request(customer, "objection", actor=me, channel="portal", purpose=purpose)
    assert set(caught.value.errors) == {"purpose"}


def test_staff_filing_for_a_caller_without_an_identity_check_waits_for_it(db, customer, outbox):
    req = services.file_request(customer, "erasure", actor=AGENT, channel="staff", on_behalf=True)
    assert req.status == RequestStatus.AWAITING_IDENTITY
    with pytest.raises(services.WrongRequestState):
        services.approve_request(req, actor=DPO)
    services.verify_identity(req, actor=AGENT, identity_check="Called back on the number on file")
    assert req.status == RequestStatus.RECEIVED
    assert req.identity_check == "Called back on the number on file"
    assert [e.details["status"] for e in entries(db, actions.REQUEST_IDENTITY_VERIFIED)] == ["received"]


def test_verifying_identity_needs_a_description_of_the_check(db, customer, outbox):
    req = services.file_request(customer, "access", actor=AGENT, channel="staff", on_behalf=True)
    with pytest.raises(ValidationFailed) as caught:
        services.verify_identity(req, actor=AGENT, identity_check="  ")
    assert set(caught.value.errors) == {"identity_check"}


def test_staff_filing_with_an_identity_check_is_received_at_once(db, customer, outbox):
    req = services.file_request(customer, "access", actor=AGENT, channel="staff", on_behalf=True,
                                identity_check="Date of birth and order number matched")
    assert req.status == RequestStatus.RECEIVED  # handed out by staff, not at once


def test_get_request_answers_not_found_for_unknown_and_malformed_ids(db):
    for bad in (uuid.uuid4(), "not-a-uuid", ""):
        with pytest.raises(NotFound):
            services.get_request(bad)


def test_a_customer_sees_only_their_own_requests(db, customer, create_customer, me, outbox):
    other = create_customer()
    theirs = services.file_request(other, "rectification", actor=TEST_ACTOR, channel="api")
    mine = services.file_request(customer, "rectification", actor=me, channel="portal")
    assert services.customer_request(customer, mine.id) is mine
    with pytest.raises(services.RequestNotFound):
        services.customer_request(customer, theirs.id)
    assert services.requests_of(customer) == [mine]


def _file_at(customer, when: str, type_: str = "rectification"):
    moment = dt.datetime.fromisoformat(when).replace(tzinfo=UTC)
    return services.file_request(customer, type_, actor=TEST_ACTOR, channel="api", now=moment)


def test_the_queue_is_ordered_by_deadline_and_filters_by_status_and_type(
        db, create_customer, policies, outbox):
    a, b, c = create_customer(), create_customer(), create_customer()
    late = _file_at(a, "2026-01-10 09:00")
    soon = _file_at(b, "2026-02-25 09:00", "erasure")
    later = _file_at(c, "2026-03-20 09:00")
    services.extend_request(soon, actor=DPO, months=2, reason="Many systems to search",
                            now=dt.datetime(2026, 3, 1, tzinfo=UTC))
    assert services.list_requests() == [late, later, soon]
    assert services.list_requests(type="erasure") == [soon]
    assert services.list_requests(status=["received"], limit=1, offset=1) == [later]
    assert services.count_requests(status="received") == 3
    assert services.count_requests(status="completed") == 0


def test_overdue_and_due_soon_are_told_apart(db, create_customer, policies, outbox):
    now = dt.datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
    late = _file_at(create_customer(), "2026-02-01 09:00")  # due 1 March
    soon = _file_at(create_customer(), "2026-02-18 09:00")  # due 18 March
    far = _file_at(create_customer(), "2026-03-14 09:00")  # due 14 April
    done = _file_at(create_customer(), "2026-01-02 09:00")  # overdue, but answered
    services.complete_request(done, actor=AGENT, outcome="rectified")
    assert services.list_requests(overdue=True, now=now) == [late]
    assert services.list_requests(overdue=False, now=now) == [done, soon, far]
    assert services.list_requests(due_within_days=7, now=now) == [soon]
    assert services.overdue_requests(within_days=7, now=now) == ([late], [soon])
    assert services.overdue_requests(now=now) == ([late], [])
    assert services.count_requests(overdue=True, now=now) == 1


@pytest.mark.parametrize("filters, field", [
    ({"status": "lost"}, "status"), ({"type": "everything"}, "type"),
    ({"overdue": "yes"}, "overdue"), ({"due_within_days": -1}, "due_within_days"),
    ({"limit": 0}, "limit"), ({"offset": -5}, "offset"),
])
def test_bad_filter_values_are_refused(db, filters, field):
    with pytest.raises(ValidationFailed) as caught:
        services.list_requests(**filters)
    assert set(caught.value.errors) == {field}


def test_restriction_takes_effect_at_once_and_completes(db, customer, me, outbox):
    req = services.file_request(customer, "restriction", actor=me, channel="portal")
    assert req.status == RequestStatus.COMPLETED and req.outcome == "restricted"
    assert customer.status == CustomerStatus.RESTRICTED
    assert [e.details["status"] for e in entries(db, actions.REQUEST_COMPLETED)] == ["completed"]
    assert entries(db, actions.CUSTOMER_RESTRICTED)


def test_access_by_the_customer_completes_at_once(db, customer, me, outbox):
    req = services.file_request(customer, RequestType.ACCESS, actor=me, channel="portal")
    assert req.status == RequestStatus.COMPLETED and req.outcome == "exported"
    assert req.completed_at == req.received_at


def test_portability_filed_by_an_api_client_waits_and_is_approved_by_staff(db, customer, outbox):
    req = services.file_request(customer, "portability", actor=TEST_ACTOR, channel="api")
    assert req.status == RequestStatus.RECEIVED
    services.approve_request(req, actor=DPO)
    assert req.status == RequestStatus.COMPLETED and req.outcome == "export-available"
    assert req.handled_by == str(DPO)
