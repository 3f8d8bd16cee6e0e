"""The request queue: agents file and follow requests, only the DPO decides them."""

from __future__ import annotations

import datetime as dt
import html
import io
import json
import zipfile

import pytest
import sqlalchemy as sa

from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from consentmgr.customers.models import Customer, CustomerStatus
from consentmgr.requests.models import DataSubjectRequest, LegalHold, RequestStatus
from consentmgr.requests.services import active_holds, file_request, place_legal_hold
from consentmgr.sql import utcnow
from tests.conftest import TEST_ACTOR
from tests.fixtures.staff import create_staff_user, csrf_token, sign_in_as  # noqa: F401

QUEUE = "/staff/requests"
CLEAR = ("ada.example@example.org", "Ada Example", "7946 0958", "Example Street")


@pytest.fixture
def logins(create_staff_user):
    return {role: create_staff_user(role, password=None) for role in ("agent", "dpo")}


@pytest.fixture
def agent(client, logins):
    sign_in_as(client, logins["agent"])
    return logins["agent"]


@pytest.fixture
def dpo(client, logins):
    sign_in_as(client, logins["dpo"])
    return logins["dpo"]


@pytest.fixture
def ada(publish_policy_files, create_customer):
    publish_policy_files()
    return create_customer(email="ada.example@example.org", name="Ada Example")


def _file(db, customer, kind: str = "erasure", *, days_ago: int = 0, **options):
    options.setdefault("channel", "staff")
    req = file_request(customer, kind, actor=TEST_ACTOR,
                       now=utcnow() - dt.timedelta(days=days_ago), **options)
    db.session.commit()
    return req


def _post(client, path: str, **data):
    return client.post(path, data={"csrf_token": csrf_token(client), **data})


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def _reload(db, req) -> DataSubjectRequest:
    db.session.expire_all()
    return db.session.get(DataSubjectRequest, req.id)


def _count(db) -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(DataSubjectRequest))


def _row(page: str, req) -> str:
    return page.split(f'/staff/requests/{req.id}"')[0].rsplit("<tr", 1)[1] + \
        page.split(f'/staff/requests/{req.id}"')[1].split("</tr>")[0]


# ------------------------------------------------------------------ the queue


def test_the_staff_home_links_to_the_queue(client, agent):
    page = _text(client.get("/staff/"))

    assert 'href="/staff/requests"' in page and "Data-subject requests" in page


def test_the_queue_lists_open_requests_by_deadline(client, db, agent, ada, create_customer):
    later = _file(db, ada, "rectification", days_ago=1)
    sooner = _file(db, create_customer(), "erasure", days_ago=20)
    done = _file(db, create_customer(), "restriction")  # takes effect at once: closed

    page = _text(client.get(QUEUE))

    assert page.index(str(sooner.id)[:8]) < page.index(str(later.id)[:8])
    assert "Erasure (Art. 17)" in page and "Rectification (Art. 16)" in page
    assert str(done.id)[:8] not in page  # the queue shows open requests unless asked


def test_overdue_and_soon_due_requests_are_marked_in_words(client, db, agent, ada,
                                                           create_customer):
    overdue = _file(db, ada, "erasure", days_ago=40)
    soon = _file(db, create_customer(), "erasure", days_ago=27)
    calm = _file(db, create_customer(), "erasure")

    page = _text(client.get(QUEUE))

    assert "urgency-overdue" in _row(page, overdue) and "Overdue by" in _row(page, overdue)
    assert "urgency-soon" in _row(page, soon) and "Due in" in _row(page, soon)
    assert "urgency" not in _row(page, calm)


def test_the_queue_filters_by_type_status_overdue_and_due_within(client, db, agent, ada,
                                                                  create_customer):
    overdue = _file(db, ada, "erasure", days_ago=40)
    rectify = _file(db, create_customer(), "rectification", days_ago=27)
    fresh = _file(db, create_customer(), "erasure")

    def listed(**query) -> set[str]:
        page = _text(client.get(QUEUE, query_string=query))
        return {str(r.id) for r in (overdue, rectify, fresh) if f"/staff/requests/{r.id}" in page}

    assert listed(type="rectification") == {str(rectify.id)}
    assert listed(overdue="y") == {str(overdue.id)}
    assert listed(due_within_days="10") == {str(rectify.id)}
    assert listed(customer=str(ada.id), status="all") == {str(overdue.id)}
    assert listed(status="completed") == set()


@pytest.mark.parametrize("query", [{"due_within_days": "soon"}, {"due_within_days": "999"},
                                   {"status": "lost"}, {"type": "teleportation"},
                                   {"customer": "not-an-id"}])
def test_a_bad_filter_is_a_422_explained_next_to_its_input(client, db, agent, query):
    response = client.get(QUEUE, query_string=query)

    assert response.status_code == 422
    [name] = query
    assert f'aria-describedby="{name}-error"' in _text(response) or \
        f'aria-describedby="{name}-hint {name}-error"' in _text(response)


# ------------------------------------------------------------------ one request


def test_a_request_page_shows_the_customer_masked_and_the_history(client, db, agent, ada):
    req = _file(db, ada, "erasure")

    response = client.get(f"/staff/requests/{req.id}")

    page = _text(response)
    assert response.status_code == 200
    assert str(ada.id) in page and "Erasure (Art. 17) request" in page
    assert not any(value in page for value in CLEAR)
    history = page.split('id="history-heading"')[1].split("</table>")[0]
    assert "Received" in history
    viewed = db.session.scalar(sa.select(AuditEntry).where(
        AuditEntry.action == actions.CUSTOMER_VIEW))
    assert viewed.subject_id == ada.id and viewed.details == {"screen": "request"}


def test_an_unknown_request_is_a_404(client, agent):
    assert client.get("/staff/requests/not-a-request").status_code == 404


def test_an_agent_sees_no_decision_forms(client, db, agent, ada):
    req = _file(db, ada, "erasure")

    page = _text(client.get(f"/staff/requests/{req.id}"))

    assert "/approve" not in page and "/refuse" not in page and "/extend" not in page
    assert "/legal-holds" not in page and "/export" not in page


# ------------------------------------------------------------------ filing for a caller


def test_an_agent_files_for_a_caller_with_an_identity_check(client, db, agent, ada, mails):
    response = _post(client, "/staff/requests/new", customer_id=str(ada.id), type="erasure",
                     notes="Caller wants the account closed",
                     identity_check="Called back on the number we hold")

    assert response.status_code == 302
    [req] = db.session.scalars(sa.select(DataSubjectRequest)).all()
    assert (req.status, req.channel) == (RequestStatus.RECEIVED, "staff")
    assert req.identity_check == "Called back on the number we hold"
    assert response.location.endswith(f"/staff/requests/{req.id}")
    assert [to for to, _, _ in mails] == ["ada.example@example.org"]


def test_without_an_identity_check_the_request_waits_for_one(client, db, agent, ada):
    _post(client, "/staff/requests/new", customer_id=str(ada.id), type="restriction")

    req = db.session.scalar(sa.select(DataSubjectRequest))
    assert req.status == RequestStatus.AWAITING_IDENTITY
    assert db.session.get(Customer, ada.id).status == CustomerStatus.ACTIVE  # not yet


def test_the_identity_check_lets_the_request_go_ahead(client, db, agent, ada):
    req = _file(db, ada, "restriction", on_behalf=True)

    response = _post(client, f"/staff/requests/{req.id}/identity",
                     **{"identity-identity_check": "Security questions answered"})

    assert response.status_code == 302
    assert _reload(db, req).status == RequestStatus.COMPLETED  # a restriction takes effect
    assert db.session.get(Customer, ada.id).status == CustomerStatus.RESTRICTED


def test_an_empty_identity_check_is_a_422_and_changes_nothing(client, db, agent, ada):
    req = _file(db, ada, "restriction", on_behalf=True)

    response = _post(client, f"/staff/requests/{req.id}/identity")

    assert response.status_code == 422
    assert 'aria-describedby="identity-identity_check-hint identity-identity_check-error"' \
        in _text(response)
    assert _reload(db, req).status == RequestStatus.AWAITING_IDENTITY


@pytest.mark.parametrize(("data", "field"), [
    ({"type": "teleportation"}, "type"),
    ({"type": ""}, "type"),
    ({"type": "objection"}, "purpose"),
    ({"type": "erasure", "customer_id": "00000000-0000-0000-0000-000000000000"}, "customer_id"),
    ({"type": "erasure", "customer_id": ""}, "customer_id"),
])
def test_filing_with_bad_input_is_a_422_and_changes_nothing(client, db, agent, ada, data, field):
    response = _post(client, "/staff/requests/new", **{"customer_id": str(ada.id), **data})

    assert response.status_code == 422
    assert f'id="{field}-error"' in _text(response)
    assert _count(db) == 0


# ------------------------------------------------------------------ the permission matrix


@pytest.mark.parametrize(("action", "data"), [
    ("approve", {}), ("refuse", {"refuse-reason_code": "manifestly-unfounded"}),
    ("extend", {"extend-months": "1", "extend-reason": "Many records to check"}),
    ("legal-holds", {"hold-exception": "legal-claims"}),
])
def test_an_agent_cannot_decide_and_the_attempt_is_recorded(client, db, agent, ada, action,
                                                            data):
    req = _file(db, ada, "erasure")

    response = _post(client, f"/staff/requests/{req.id}/{action}", **data)

    assert response.status_code == 403
    assert _reload(db, req).status == RequestStatus.RECEIVED
    assert _reload(db, req).extended_due_at is None
    assert active_holds(ada) == []
    denied = db.session.scalar(sa.select(AuditEntry).where(
        AuditEntry.action == actions.STAFF_ACCESS_DENIED))
    assert denied.actor_id == agent.id


def test_an_agent_completes_a_rectification_but_not_an_erasure(client, db, agent, ada,
                                                               create_customer):
    rectify = _file(db, ada, "rectification", notes="Wrong delivery address on order 17")
    erase = _file(db, create_customer(), "erasure")

    done = _post(client, f"/staff/requests/{rectify.id}/complete",
                 **{"complete-note": "Delivery address on order 17 corrected"})
    refused = _post(client, f"/staff/requests/{erase.id}/complete")

    assert done.status_code == 302
    assert (_reload(db, rectify).status, _reload(db, rectify).outcome) == (
        RequestStatus.COMPLETED, "rectified")
    assert refused.status_code == 403
    assert _reload(db, erase).status == RequestStatus.RECEIVED


# ------------------------------------------------------------------ the DPO decides


def test_the_dpo_approves_an_erasure_and_the_customer_is_erased(client, db, dpo, ada, mails):
    req = _file(db, ada, "erasure")

    response = _post(client, f"/staff/requests/{req.id}/approve")

    assert response.status_code == 302
    assert _reload(db, req).status == RequestStatus.COMPLETED
    assert db.session.get(Customer, ada.id).status == CustomerStatus.ERASED
    assert mails[-1][0] == "ada.example@example.org"  # composed before the address went
    page = _text(client.get(f"/staff/requests/{req.id}"))
    assert "Completed" in page and not any(value in page for value in CLEAR)


def test_approving_a_closed_request_is_a_409_and_changes_nothing(client, db, dpo, ada):
    req = _file(db, ada, "erasure")
    _post(client, f"/staff/requests/{req.id}/refuse",
          **{"refuse-reason_code": "manifestly-unfounded"})

    response = _post(client, f"/staff/requests/{req.id}/approve")

    assert response.status_code == 409
    assert _reload(db, req).status == RequestStatus.REFUSED
    assert db.session.get(Customer, ada.id).status == CustomerStatus.ACTIVE


@pytest.mark.parametrize(("data", "field"), [
    ({}, "reason_code"),
    ({"refuse-reason_code": "because"}, "reason_code"),
    ({"refuse-reason_code": "other"}, "explanation"),
])
def test_a_refusal_without_a_reason_is_a_422_and_changes_nothing(client, db, dpo, ada, data,
                                                                  field):
    req = _file(db, ada, "erasure")

    response = _post(client, f"/staff/requests/{req.id}/refuse", **data)

    assert response.status_code == 422
    page = _text(response)
    assert f'id="refuse-{field}-error"' in page and f"refuse-{field}-error\"" in page
    assert page.count("There is a problem") == 1
    assert _reload(db, req).status == RequestStatus.RECEIVED


def test_a_refusal_with_a_reason_tells_the_customer(client, db, dpo, ada, mails):
    req = _file(db, ada, "erasure")

    response = _post(client, f"/staff/requests/{req.id}/refuse",
                     **{"refuse-reason_code": "legal-claims",
                        "refuse-explanation": "A court case about order 17 is pending."})

    assert response.status_code == 302
    refused = _reload(db, req)
    assert (refused.status, refused.refusal_reason) == (RequestStatus.REFUSED, "legal-claims")
    assert "supervisory authority" in mails[-1][2]


@pytest.mark.parametrize("months", ["3", "0", "two", ""])
def test_an_extension_too_long_or_malformed_is_a_422_and_changes_nothing(client, db, dpo, ada,
                                                                         months):
    req = _file(db, ada, "erasure")

    response = _post(client, f"/staff/requests/{req.id}/extend",
                     **{"extend-months": months, "extend-reason": "Many records to check"})

    assert response.status_code == 422
    assert 'id="extend-months-error"' in _text(response)
    assert _reload(db, req).extended_due_at is None


def test_an_extension_without_a_reason_is_a_422(client, db, dpo, ada):
    req = _file(db, ada, "erasure")

    response = _post(client, f"/staff/requests/{req.id}/extend", **{"extend-months": "1"})

    assert response.status_code == 422
    assert _reload(db, req).extended_due_at is None


def test_the_dpo_extends_by_two_months_with_a_reason(client, db, dpo, ada, mails):
    req = _file(db, ada, "erasure")

    response = _post(client, f"/staff/requests/{req.id}/extend",
                     **{"extend-months": "2", "extend-reason": "Records in three systems"})

    assert response.status_code == 302
    extended = _reload(db, req)
    assert extended.extended_due_at > extended.due_at
    assert extended.extension_reason == "Records in three systems"
    assert "Records in three systems" in mails[-1][2]


def test_the_dpo_weighs_an_objection(client, db, dpo, ada):
    req = _file(db, ada, "objection", purpose="analytics")
    assert req.status == RequestStatus.IN_PROGRESS

    missing = _post(client, f"/staff/requests/{req.id}/objection",
                    **{"objection-decision": "compelling-grounds"})
    decided = _post(client, f"/staff/requests/{req.id}/objection",
                    **{"objection-decision": "compelling-grounds",
                       "objection-reason": "Needed to detect payment fraud on the account"})

    assert missing.status_code == 422
    assert decided.status_code == 302
    assert _reload(db, req).outcome == "compelling-grounds"


def test_a_legal_hold_holds_the_erasure_back_until_lifted(client, db, dpo, ada):
    req = _file(db, ada, "erasure")

    placed = _post(client, f"/staff/requests/{req.id}/legal-holds",
                   **{"hold-exception": "legal-claims", "hold-note": "Case 2026-17"})
    [hold] = active_holds(ada)
    _post(client, f"/staff/requests/{req.id}/approve")

    assert placed.status_code == 302
    held = _reload(db, req)
    assert (held.status, held.refusal_reason) == (RequestStatus.REFUSED, "legal-claims")
    assert db.session.get(Customer, ada.id).status == CustomerStatus.ACTIVE

    lifted = _post(client, f"/staff/requests/{req.id}/legal-holds/{hold.id}/lift")
    assert lifted.status_code == 302
    db.session.expire_all()
    assert db.session.get(LegalHold, hold.id).lifted_at is not None


def test_a_legal_hold_without_an_exception_is_a_422(client, db, dpo, ada):
    req = _file(db, ada, "erasure")

    response = _post(client, f"/staff/requests/{req.id}/legal-holds")

    assert response.status_code == 422
    assert active_holds(ada) == []


def test_another_customers_hold_cannot_be_lifted_from_this_request(client, db, dpo, ada,
                                                                   create_customer):
    req = _file(db, ada, "erasure")
    other = create_customer()
    hold = place_legal_hold(other, actor=TEST_ACTOR, exception="legal-obligation")
    db.session.commit()

    response = _post(client, f"/staff/requests/{req.id}/legal-holds/{hold.id}/lift")

    assert response.status_code == 404
    assert len(active_holds(other)) == 1


def test_every_request_form_needs_its_csrf_token(client, db, dpo, ada):
    req = _file(db, ada, "erasure")

    for action in ("approve", "refuse", "extend", "legal-holds", "identity", "complete"):
        assert client.post(f"/staff/requests/{req.id}/{action}").status_code == 400
    assert client.post("/staff/requests/new", data={"customer_id": str(ada.id),
                                                    "type": "erasure"}).status_code == 400
    assert _reload(db, req).status == RequestStatus.RECEIVED and _count(db) == 1


def test_the_forms_have_labels_for_every_input(client, db, dpo, ada):
    req = _file(db, ada, "erasure")

    page = _text(client.get(f"/staff/requests/{req.id}"))

    for input_id in ("refuse-reason_code", "refuse-explanation", "extend-months",
                     "extend-reason", "hold-exception", "hold-note", "complete-note"):
        assert f'<label for="{input_id}">' in page


# ------------------------------------------------------------------ the export


def test_the_dpo_exports_a_customers_data_and_it_is_recorded(client, db, dpo, ada):
    response = _post(client, f"/staff/customers/{ada.id}/export")

    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    data = zipfile.ZipFile(io.BytesIO(response.get_data())).read("data.json")
    assert "ada.example@example.org" in json.dumps(json.loads(data))
    entry = db.session.scalar(sa.select(AuditEntry).where(
        AuditEntry.action == actions.CUSTOMER_EXPORTED))
    assert (entry.actor_id, entry.subject_id) == (dpo.id, ada.id)


def test_an_agent_cannot_export(client, db, agent, ada):
    response = _post(client, f"/staff/customers/{ada.id}/export")

    assert response.status_code == 403
    assert db.session.scalar(sa.select(AuditEntry).where(
        AuditEntry.action == actions.CUSTOMER_EXPORTED)) is None


def test_the_record_page_links_to_filing_and_for_the_dpo_to_the_export(client, db, dpo, ada,
                                                                        logins):
    page = _text(client.get(f"/staff/customers/{ada.id}"))
    sign_in_as(client, logins["agent"])
    agent_page = _text(client.get(f"/staff/customers/{ada.id}"))

    assert f"/staff/requests/new?customer_id={ada.id}" in page
    assert f"/staff/customers/{ada.id}/export" in page
    assert f"/staff/customers/{ada.id}/export" not in agent_page


def test_an_export_leaves_no_database_connection_behind(client, db, dpo, ada):
    response = _post(client, f"/staff/customers/{ada.id}/export")

    assert response.status_code == 200 and response.get_data()
    assert db.engine.pool.checkedout() == 0


def test_the_dpo_lifts_a_restriction_and_the_customer_is_told_first(client, db, dpo, ada, mails):
    req = _file(db, ada, "restriction", identity_check="Called back on the number on file")
    assert db.session.get(Customer, ada.id).status == CustomerStatus.RESTRICTED
    assert "Lift the restriction" in _text(client.get(f"/staff/requests/{req.id}"))

    response = _post(client, f"/staff/requests/{req.id}/lift-restriction")

    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Customer, ada.id).status == CustomerStatus.ACTIVE
    assert mails and mails[-1][0] == "ada.example@example.org"  # GDPR Art. 18(3)


def test_an_agent_cannot_lift_a_restriction(client, db, agent, ada):
    req = _file(db, ada, "restriction", identity_check="Called back on the number on file")

    response = _post(client, f"/staff/requests/{req.id}/lift-restriction")

    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(Customer, ada.id).status == CustomerStatus.RESTRICTED
