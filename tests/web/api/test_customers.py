"""Customers through the API: create or upsert, read (audited), look up, correct, add history."""

from __future__ import annotations

import uuid

import pytest

from tests.web.api.conftest import assert_problem

HISTORY = {"occurred_at": "2026-03-02T10:15:00Z", "channel": "web", "kind": "purchase",
           "data_category": "orders", "summary": "Order 1234: seeds"}


def _audit(db, action):
    from consentmgr.audit.models import AuditEntry

    return db.session.query(AuditEntry).filter_by(action=action).all()


def test_creating_a_customer_answers_201_with_ids_only(client, bearer, customer_payload):
    body = customer_payload()
    response = client.post("/api/v1/customers", json=body, headers=bearer)
    assert response.status_code == 201
    created = response.get_json()
    assert set(created) == {"id", "status", "external_ref"}
    assert created["status"] == "active"
    assert response.headers["Location"] == f"/api/v1/customers/{created['id']}"
    assert body["email"].encode() not in response.data


def test_the_created_customer_is_stored_encrypted_and_readable(client, db, bearer, customer_payload):
    from consentmgr.customers.services import get_customer

    body = customer_payload(name="Grace Example")
    created = client.post("/api/v1/customers", json=body, headers=bearer).get_json()
    customer = get_customer(created["id"])
    assert (customer.email, customer.name) == (body["email"], "Grace Example")


def test_a_known_external_ref_updates_instead_of_creating(client, db, bearer, customer_payload):
    from consentmgr.customers.models import Customer

    body = customer_payload(external_ref="crm-42")
    first = client.post("/api/v1/customers", json=body, headers=bearer)
    second = client.post("/api/v1/customers", json={**body, "name": "Ada Renamed"}, headers=bearer)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.get_json()["id"] == first.get_json()["id"]
    assert second.get_json()["external_ref"] == "crm-42"
    assert db.session.query(Customer).count() == 1
    assert db.session.get(Customer, uuid.UUID(first.get_json()["id"])).name == "Ada Renamed"


def test_external_refs_belong_to_the_client_that_sent_them(client, db, create_api_client,
                                                         customer_payload):
    _, shop = create_api_client(name="shop")
    _, crm = create_api_client(name="crm")
    first = client.post("/api/v1/customers", json=customer_payload(external_ref="42"),
                        headers={"Authorization": f"Bearer {shop}"})
    other = client.post("/api/v1/customers", json=customer_payload(external_ref="42"),
                        headers={"Authorization": f"Bearer {crm}"})
    assert other.status_code == 201
    assert other.get_json()["id"] != first.get_json()["id"]


def test_the_external_ref_is_given_back_in_the_record_but_never_stored_in_clear(
        client, db, bearer, customer_payload):
    import sqlalchemy as sa

    from consentmgr.apiclients.models import ExternalRef

    created = client.post("/api/v1/customers", json=customer_payload(external_ref="crm-MRK5150"),
                          headers=bearer).get_json()
    record = client.get(f"/api/v1/customers/{created['id']}", headers=bearer).get_json()
    assert record["external_ref"] == created["external_ref"] == "crm-MRK5150"
    raw = db.session.execute(sa.select(ExternalRef.__table__)).one()._mapping
    assert "MRK5150" not in repr(dict(raw)) and b"MRK5150" not in bytes(raw["external_ref"])


def test_another_client_reading_the_record_does_not_see_the_first_clients_ref(
        client, create_api_client, customer_payload):
    _, shop = create_api_client(name="shop")
    _, crm = create_api_client(name="crm")
    created = client.post("/api/v1/customers", json=customer_payload(external_ref="shop-1"),
                          headers={"Authorization": f"Bearer {shop}"}).get_json()
    record = client.get(f"/api/v1/customers/{created['id']}",
                        headers={"Authorization": f"Bearer {crm}"}).get_json()
    assert record["external_ref"] is None


def test_reading_a_customer_returns_the_record(client, bearer, create_customer):
    customer = create_customer(name="Ada Lovelace")
    response = client.get(f"/api/v1/customers/{customer.id}", headers=bearer)
    assert response.status_code == 200
    record = response.get_json()
    assert record["name"] == "Ada Lovelace"
    assert record["date_of_birth"] == "1985-04-12"
    assert record["preferences"]["channels"] == ["email"]
    assert record["created_at"].endswith("+00:00")
    assert "history" not in record


def test_reading_a_customer_is_audited_with_the_fields_returned(client, db, bearer, create_customer):
    customer = create_customer(phone=None)
    client.get(f"/api/v1/customers/{customer.id}", headers=bearer)
    [entry] = _audit(db, "api.customer.read")
    assert entry.subject_id == customer.id
    assert set(entry.fields) == {"email", "name", "postal_address", "date_of_birth", "preferences"}


def test_history_is_returned_only_when_asked(client, db, bearer, create_customer):
    customer = create_customer()
    client.post(f"/api/v1/customers/{customer.id}/history", json=HISTORY, headers=bearer)
    record = client.get(f"/api/v1/customers/{customer.id}?history=true", headers=bearer).get_json()
    assert [h["summary"] for h in record["history"]] == ["Order 1234: seeds"]
    assert "history" in _audit(db, "api.customer.read")[0].fields


def test_lookup_by_email_finds_the_customer_by_blind_index(client, bearer, create_customer):
    customer = create_customer(email="Find.Me@Example.org")
    response = client.get("/api/v1/customers", query_string={"email": "find.me@example.org"},
                          headers=bearer)
    assert response.get_json() == {"customers": [{"id": str(customer.id), "status": "active"}]}


@pytest.mark.parametrize("typed", ["  Anna.Jensen@Example.com ", "ANNA.JENSEN@EXAMPLE.COM",
                                   "\tanna.jensen@example.com\n", "ａｎｎａ.jensen@example.com"])
def test_lookup_trims_and_normalises_the_address_like_the_blind_index(client, bearer,
                                                                      create_customer, typed):
    customer = create_customer(email="anna.jensen@example.com")
    response = client.get("/api/v1/customers", query_string={"email": typed}, headers=bearer)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"customers": [{"id": str(customer.id), "status": "active"}]}


def test_lookup_still_refuses_what_is_not_an_address_after_normalising(client, bearer):
    for typed in ("   ", "anna jensen@example.com", "no-at-sign.example.com"):
        body = assert_problem(client.get("/api/v1/customers", query_string={"email": typed},
                                         headers=bearer), 422)
        assert set(body["errors"]) == {"email"}


def test_lookup_of_an_unknown_email_is_an_empty_list(client, db, bearer):
    response = client.get("/api/v1/customers", query_string={"email": "nobody@example.org"},
                          headers=bearer)
    assert response.get_json() == {"customers": []}
    assert _audit(db, "api.customer.lookup") == []


def test_a_successful_lookup_is_audited(client, db, bearer, create_customer):
    customer = create_customer()
    client.get("/api/v1/customers", query_string={"email": customer.email}, headers=bearer)
    [entry] = _audit(db, "api.customer.lookup")
    assert (entry.subject_id, entry.fields) == (customer.id, ["email"])


def test_lookup_needs_an_email(client, bearer):
    body = assert_problem(client.get("/api/v1/customers", headers=bearer), 422)
    assert set(body["errors"]) == {"email"}


def test_patch_corrects_only_the_fields_sent(client, bearer, create_customer):
    customer = create_customer(name="Ada Example")
    response = client.patch(f"/api/v1/customers/{customer.id}", headers=bearer,
                            json={"phone": "+44 20 7946 0000", "name": "Ada Example"})
    assert response.status_code == 200
    assert response.get_json() == {"id": str(customer.id), "status": "active", "changed": ["phone"]}


def test_patch_with_nothing_to_change_changes_nothing(client, bearer, create_customer):
    customer = create_customer()
    response = client.patch(f"/api/v1/customers/{customer.id}", json={}, headers=bearer)
    assert response.get_json()["changed"] == []


def test_patch_to_an_email_used_by_another_customer_is_409(client, bearer, create_customer):
    one, other = create_customer(), create_customer()
    response = client.patch(f"/api/v1/customers/{one.id}", json={"email": other.email}, headers=bearer)
    assert_problem(response, 409, "conflict")


def test_patch_rejects_null_for_required_fields(client, bearer, create_customer):
    customer = create_customer()
    body = assert_problem(client.patch(f"/api/v1/customers/{customer.id}", json={"email": None},
                                       headers=bearer), 422)
    assert set(body["errors"]) == {"email"}


def test_patch_of_an_unknown_customer_is_404(client, bearer):
    response = client.patch(f"/api/v1/customers/{uuid.uuid4()}", json={"name": "X"}, headers=bearer)
    assert_problem(response, 404, "not-found")


def test_adding_history_answers_201_without_its_text(client, bearer, create_customer):
    customer = create_customer()
    response = client.post(f"/api/v1/customers/{customer.id}/history", json=HISTORY, headers=bearer)
    assert response.status_code == 201
    entry = response.get_json()
    assert (entry["kind"], entry["customer_id"]) == ("purchase", str(customer.id))
    assert b"seeds" not in response.data


def test_invalid_history_is_422(client, bearer, create_customer):
    customer = create_customer()
    response = client.post(f"/api/v1/customers/{customer.id}/history",
                           json={**HISTORY, "kind": "teleportation"}, headers=bearer)
    assert set(assert_problem(response, 422)["errors"]) == {"kind"}


def test_history_for_an_unknown_customer_is_404(client, bearer):
    response = client.post(f"/api/v1/customers/{uuid.uuid4()}/history", json=HISTORY, headers=bearer)
    assert_problem(response, 404)
