"""Data-subject requests through the API: file, read, list, decide; restriction; Art. 19."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa
import time_machine

from consentmgr.actors import Actor
from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from tests.conftest import TEST_ACTOR
from tests.fixtures.audit import sequence_audit
from tests.web.api.conftest import assert_problem

REQUEST_FIELDS = {"id", "customer_id", "type", "status", "channel", "purpose", "received_at",
                  "due_at", "extended", "overdue", "completed_at", "outcome", "refusal_reason"}


@pytest.fixture
def headers_with(create_api_client):
    """Creator: ``headers_with("requests:read", name=...)`` → Authorization header of a new key."""

    def make(*scopes: str, name: str = "crm") -> dict[str, str]:
        return {"Authorization": f"Bearer {create_api_client(scopes=list(scopes), name=name)[1]}"}

    return make


def _file(client, headers, customer_id, type_="erasure", **extra):
    return client.post("/api/v1/requests", json={"customer_id": str(customer_id), "type": type_,
                                                 **extra}, headers=headers)


def _filed(db, customer, type_="erasure", *, received=None):
    """A request filed by staff through the service (committed); returns its id."""
    from consentmgr.requests.services import file_request

    req = file_request(customer, type_, actor=Actor("staff", "s1", role="dpo"), channel="staff",
                       now=received, auto_approve_erasure=False)
    db.session.commit()
    return req.id


def _status(client, headers, request_id) -> str:
    return client.get(f"/api/v1/requests/{request_id}", headers=headers).get_json()["status"]


def _request_count(db) -> int:
    from consentmgr.requests.models import DataSubjectRequest

    return db.session.scalar(sa.select(sa.func.count()).select_from(DataSubjectRequest))


# ----------------------------------------------------------------- filing


def test_filing_answers_201_with_the_deadline_and_where_to_read_it(client, bearer, create_customer):
    customer = create_customer()
    with time_machine.travel(dt.datetime(2027, 1, 31, 9, 30, tzinfo=dt.timezone.utc), tick=False):
        response = _file(client, bearer, customer.id, notes="Please delete my account")
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert REQUEST_FIELDS <= set(body)
    assert (body["type"], body["status"], body["channel"]) == ("erasure", "received", "api")
    assert body["received_at"].startswith("2027-01-31T09:30")
    # GDPR Art. 12(3): one calendar month, clipped to the end of February.
    assert body["due_at"].startswith("2027-02-28T09:30")
    assert response.headers["Location"].endswith(f"/api/v1/requests/{body['id']}")
    assert "Please delete" not in response.get_data(as_text=True)  # notes are never echoed


def test_filing_is_audited_with_the_client_as_actor_and_no_personal_data(client, db, bearer,
                                                                        create_customer):
    customer = create_customer()
    body = _file(client, bearer, customer.id, "rectification",
                 notes="My name is misspelt").get_json()
    entry = db.session.scalars(sa.select(AuditEntry).where(
        AuditEntry.action == actions.REQUEST_RECEIVED)).one()
    assert entry.actor_type == "api-client" and entry.subject_id == customer.id
    assert entry.details == {"request_id": body["id"], "type": "rectification",
                             "status": "received"}


@pytest.mark.parametrize("body, field", [
    ({"type": "deletion"}, "type"),
    ({"type": None}, "type"),
    ({"customer_id": "not-a-uuid"}, "customer_id"),
    ({"surprise": 1}, "surprise"),
    ({"type": "objection"}, "purpose"),  # an objection names its purpose
    ({"type": "objection", "purpose": "marketing-email"}, "purpose"),  # consent: withdraw instead
    ({"type": "erasure", "purpose": "analytics"}, "purpose"),
])
def test_bad_input_is_422_naming_the_field_and_files_nothing(client, db, bearer, create_customer,
                                                             policy, body, field):
    customer = create_customer()
    response = client.post("/api/v1/requests", headers=bearer,
                           json={"customer_id": str(customer.id), "type": "erasure", **body})
    problem = assert_problem(response, 422, "invalid-input")
    assert field in problem["errors"]
    assert _request_count(db) == 0


def test_an_unknown_customer_is_404(client, db, bearer):
    assert_problem(_file(client, bearer, uuid.uuid4()), 404, "not-found")
    assert _request_count(db) == 0


def test_a_request_for_an_erased_customer_is_409(client, db, bearer, create_customer):
    from consentmgr.customers.services import erase_customer

    customer = create_customer()
    erase_customer(customer, actor=TEST_ACTOR)
    db.session.commit()
    assert_problem(_file(client, bearer, customer.id, "access"), 409, "conflict")
    assert _request_count(db) == 0


def test_a_second_open_erasure_request_is_409_and_only_one_is_kept(client, db, bearer,
                                                                   create_customer):
    customer = create_customer()
    assert _file(client, bearer, customer.id).status_code == 201
    problem = assert_problem(_file(client, bearer, customer.id), 409, "conflict")
    assert "already an open erasure request" in problem["detail"]
    assert _request_count(db) == 1


def test_an_idempotency_key_replays_the_first_answer_and_files_once(client, db, bearer,
                                                                    create_customer):
    customer = create_customer()
    headers = {**bearer, "Idempotency-Key": "dsr-1"}
    first = _file(client, headers, customer.id, "access")
    again = _file(client, headers, customer.id, "access")
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == first.get_json()["id"]
    assert _request_count(db) == 1


def test_an_objection_to_a_legitimate_interest_stops_processing_and_awaits_the_dpo(
        client, bearer, policy, create_customer):
    customer = create_customer()
    body = _file(client, bearer, customer.id, "objection", purpose="analytics").get_json()
    assert (body["status"], body["purpose"]) == ("in-progress", "analytics")
    check = client.get(f"/api/v1/customers/{customer.id}/consents/analytics", headers=bearer)
    assert check.get_json()["allowed"] is False


# ----------------------------------------------------------------- reading


def test_a_request_is_read_by_id(client, db, bearer, create_customer):
    customer = create_customer()
    request_id = _filed(db, customer, "access")
    response = client.get(f"/api/v1/requests/{request_id}", headers=bearer)
    assert response.status_code == 200
    body = response.get_json()
    assert (body["id"], body["type"], body["channel"]) == (str(request_id), "access", "staff")
    assert body["notified_clients"] is None  # Art. 19 concerns only changes to the data


def test_an_unknown_request_is_404(client, bearer):
    assert_problem(client.get(f"/api/v1/requests/{uuid.uuid4()}", headers=bearer), 404)


def test_the_register_lists_soonest_deadline_first_and_pages(client, db, bearer, create_customer):
    customers = [create_customer() for _ in range(3)]
    start = dt.datetime(2027, 3, 1, tzinfo=dt.timezone.utc)
    ids = [_filed(db, c, "access", received=start + dt.timedelta(days=d))
           for c, d in zip(customers, (2, 0, 1))]
    first = client.get("/api/v1/requests?limit=2", headers=bearer).get_json()
    assert [r["id"] for r in first["requests"]] == [str(ids[1]), str(ids[2])]
    assert (first["total"], first["next_offset"]) == (3, 2)
    rest = client.get("/api/v1/requests?limit=2&offset=2", headers=bearer).get_json()
    assert [r["id"] for r in rest["requests"]] == [str(ids[0])]
    assert rest["next_offset"] is None


def test_the_register_filters_by_status_type_and_overdue(client, db, bearer, create_customer):
    long_ago = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
    late = _filed(db, create_customer(), "rectification", received=long_ago)
    current = _filed(db, create_customer(), "erasure")

    def ids(query):
        response = client.get(f"/api/v1/requests?{query}", headers=bearer)
        assert response.status_code == 200, response.get_data(as_text=True)
        return [r["id"] for r in response.get_json()["requests"]]

    assert ids("overdue=true") == [str(late)]
    assert ids("overdue=false") == [str(current)]
    assert ids("type=erasure") == [str(current)]
    assert ids("status=received") == [str(late), str(current)]
    assert ids("status=completed") == []
    listed = client.get("/api/v1/requests?overdue=true", headers=bearer).get_json()["requests"][0]
    assert listed["overdue"] is True and "notified_clients" not in listed


@pytest.mark.parametrize("query", ["status=open", "type=deletion", "overdue=yes", "limit=0",
                                   "limit=101", "offset=-1", "sort=due"])
def test_bad_filters_are_422(client, bearer, query):
    assert_problem(client.get(f"/api/v1/requests?{query}", headers=bearer), 422, "invalid-input")


# --------------------------------------------------------------- decisions


def test_approving_an_erasure_erases_the_customer(client, db, bearer, policy, create_customer):
    customer = create_customer()
    request_id = _file(client, bearer, customer.id).get_json()["id"]
    response = client.post(f"/api/v1/requests/{request_id}/approve", json={}, headers=bearer)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["status"] == "completed"
    check = client.get(f"/api/v1/customers/{customer.id}/consents/marketing-email", headers=bearer)
    assert check.get_json()["status"] == "erased"


def test_approving_a_closed_request_is_409_and_changes_nothing(client, db, bearer,
                                                               create_customer):
    customer = create_customer()
    request_id = _file(client, bearer, customer.id, "rectification").get_json()["id"]
    assert client.post(f"/api/v1/requests/{request_id}/refuse", headers=bearer,
                       json={"reason_code": "manifestly-unfounded"}).status_code == 200
    entries = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry))
    problem = assert_problem(client.post(f"/api/v1/requests/{request_id}/approve", json={},
                                         headers=bearer), 409, "conflict")
    assert "refused" in problem["detail"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == entries
    assert _status(client, bearer, request_id) == "refused"


def test_a_refusal_records_its_reason_code(client, db, bearer, create_customer):
    customer = create_customer()
    request_id = _file(client, bearer, customer.id).get_json()["id"]
    response = client.post(f"/api/v1/requests/{request_id}/refuse", headers=bearer,
                           json={"reason_code": "legal-claims",
                                 "explanation": "Needed for a pending court case."})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert (body["status"], body["refusal_reason"]) == ("refused", "legal-claims")
    assert body["completed_at"] is not None
    assert "court case" not in response.get_data(as_text=True)


@pytest.mark.parametrize("body, field", [
    ({}, "reason_code"),
    ({"reason_code": "because"}, "reason_code"),
    ({"reason_code": "other"}, "explanation"),  # 'other' must say why
    ({"reason_code": "other", "explanation": ""}, "explanation"),
])
def test_a_refusal_without_a_valid_reason_is_422_and_changes_nothing(client, db, bearer,
                                                                     create_customer, body, field):
    customer = create_customer()
    request_id = _file(client, bearer, customer.id).get_json()["id"]
    problem = assert_problem(client.post(f"/api/v1/requests/{request_id}/refuse", json=body,
                                         headers=bearer), 422, "invalid-input")
    assert field in problem["errors"]
    assert _status(client, bearer, request_id) == "received"


def test_deciding_an_unknown_request_is_404(client, bearer):
    assert_problem(client.post(f"/api/v1/requests/{uuid.uuid4()}/approve", json={},
                               headers=bearer), 404)


def test_an_approval_takes_no_fields(client, db, bearer, create_customer):
    request_id = _filed(db, create_customer(), "rectification")
    assert_problem(client.post(f"/api/v1/requests/{request_id}/approve", json={"force": True},
                               headers=bearer), 422)


# ------------------------------------------------------------------ scopes


@pytest.mark.parametrize("scope, method, path", [
    ("requests:read", "post", "/api/v1/requests"),
    ("requests:write", "get", "/api/v1/requests"),
    ("requests:write", "post", "/api/v1/requests/{id}/approve"),
    ("requests:read", "post", "/api/v1/requests/{id}/refuse"),
    ("customers:read", "get", "/api/v1/requests/{id}"),
])
def test_each_operation_needs_its_own_scope(client, db, headers_with, create_customer,
                                            scope, method, path):
    request_id = _filed(db, create_customer(), "rectification")
    response = getattr(client, method)(path.replace("{id}", str(request_id)), json={},
                                       headers=headers_with(scope))
    assert_problem(response, 403, "insufficient-scope")


# ------------------------------------------------------------- restriction


def test_a_restriction_request_takes_effect_at_once(client, bearer, create_customer):
    customer = create_customer()
    body = _file(client, bearer, customer.id, "restriction").get_json()
    assert (body["status"], body["outcome"]) == ("completed", "restricted")
    assert body["notified_clients"] == []


def test_while_restricted_reads_and_updates_of_the_record_are_refused_with_a_reason(
        client, db, bearer, policy, create_customer):
    customer = create_customer()
    _file(client, bearer, customer.id, "restriction")
    read = assert_problem(client.get(f"/api/v1/customers/{customer.id}", headers=bearer),
                          409, "restricted")
    assert "Art. 18" in read["detail"] and read["title"] == "Processing restricted"
    assert_problem(client.patch(f"/api/v1/customers/{customer.id}", json={"name": "X"},
                                headers=bearer), 409, "restricted")
    assert_problem(client.get(f"/api/v1/customers/{customer.id}/export", headers=bearer),
                   409, "restricted")
    assert customer.email.encode() not in client.get(f"/api/v1/customers/{customer.id}",
                                                     headers=bearer).data
    reads = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(
        AuditEntry.action.in_([actions.API_CUSTOMER_READ, actions.CUSTOMER_EXPORTED])))
    assert reads == 0


def test_while_restricted_consent_checks_answer_restricted(client, db, bearer, policy,
                                                           create_customer):
    customer = create_customer()
    _file(client, bearer, customer.id, "restriction")
    check = client.get(f"/api/v1/customers/{customer.id}/consents/marketing-email", headers=bearer)
    assert check.status_code == 200
    assert (check.get_json()["allowed"], check.get_json()["status"]) == (False, "restricted")


def test_the_restricted_problem_type_is_explained_on_the_api_page(client):
    page = client.get("/api/").get_data(as_text=True)
    assert 'id="problem-restricted"' in page and "Art. 18" in page


# ------------------------------------------------------------------ Art. 19


def test_the_feed_names_the_request_of_each_transition(client, db, bearer, create_customer):
    customer = create_customer()
    request_id = _file(client, bearer, customer.id, "restriction").get_json()["id"]
    sequence_audit(db)
    events = client.get("/api/v1/events", headers=bearer).get_json()["events"]
    by_type = {e["type"]: e for e in events}
    assert {"request.received", "customer.restricted", "request.completed"} <= set(by_type)
    assert (by_type["request.completed"]["request_id"],
            by_type["request.completed"]["request_type"],
            by_type["request.completed"]["status"]) == (request_id, "restriction", "completed")
    assert by_type["customer.restricted"]["request_id"] is None


def test_clients_that_read_the_feed_past_the_completion_are_listed_as_notified(
        client, db, headers_with, create_customer):
    from consentmgr.apiclients.models import ApiClient

    filer = headers_with("requests:write", "requests:read", name="helpdesk")
    crm = headers_with("events:read", name="crm")
    headers_with("events:read", name="mailer")  # never reads the feed
    customer = create_customer()
    request_id = _file(client, filer, customer.id, "restriction").get_json()["id"]
    assert client.get(f"/api/v1/requests/{request_id}", headers=filer).get_json()[
        "notified_clients"] == []

    sequence_audit(db)
    page = client.get("/api/v1/events?limit=1000", headers=crm).get_json()
    notified = client.get(f"/api/v1/requests/{request_id}", headers=filer).get_json()[
        "notified_clients"]
    assert [(c["name"], c["feed_cursor"]) for c in notified] == [("crm", page["next_cursor"])]
    crm_row = db.session.scalars(sa.select(ApiClient).where(ApiClient.name == "crm")).one()
    assert str(crm_row.id) == notified[0]["id"]


def test_a_client_that_stopped_before_the_completion_is_not_notified(client, db, headers_with,
                                                                     create_customer):
    filer = headers_with("requests:write", "requests:read", name="helpdesk")
    crm = headers_with("events:read", name="crm")
    customer = create_customer()
    request_id = _file(client, filer, customer.id, "restriction").get_json()["id"]
    sequence_audit(db)
    client.get("/api/v1/events?limit=1", headers=crm)  # only request.received
    assert client.get(f"/api/v1/requests/{request_id}", headers=filer).get_json()[
        "notified_clients"] == []


def test_asking_after_a_cursor_beyond_the_end_records_no_reading(client, db, headers_with,
                                                                 create_customer):
    from consentmgr.apiclients.models import ApiClient

    crm = headers_with("events:read", name="crm")
    client.get("/api/v1/events?after=999999", headers=crm)
    assert db.session.scalars(sa.select(ApiClient.feed_cursor)).one() is None
