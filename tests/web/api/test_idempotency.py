"""Idempotency-Key: a retried POST is done once; a reused key with another body is refused."""

from __future__ import annotations

import datetime as dt

import time_machine

from tests.web.api.conftest import assert_problem


def _post(client, headers, body, key):
    return client.post("/api/v1/customers", json=body, headers={**headers, "Idempotency-Key": key})


def test_a_retry_with_the_same_key_and_body_replays_the_first_answer(client, db, bearer,
                                                                     customer_payload):
    from consentmgr.customers.models import Customer

    body = customer_payload()
    first = _post(client, bearer, body, "order-1234")
    again = _post(client, bearer, body, "order-1234")
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert db.session.query(Customer).count() == 1


def test_the_same_body_with_keys_in_another_order_is_the_same_request(client, bearer,
                                                                     customer_payload):
    body = customer_payload()
    first = _post(client, bearer, body, "k-1")
    reordered = dict(reversed(list(body.items())))
    assert _post(client, bearer, reordered, "k-1").get_json() == first.get_json()


def test_the_same_key_with_another_body_is_409(client, bearer, customer_payload):
    _post(client, bearer, customer_payload(), "k-2")
    response = _post(client, bearer, customer_payload(), "k-2")
    assert_problem(response, 409, "idempotency-key-reused")


def test_the_same_key_on_another_operation_is_409(client, bearer, customer_payload, create_customer):
    customer = create_customer()
    body = {"occurred_at": "2026-01-01T10:00:00Z", "channel": "web", "kind": "visit",
            "data_category": "visits", "summary": "Visited the shop"}
    _post(client, bearer, customer_payload(), "k-3")
    response = client.post(f"/api/v1/customers/{customer.id}/history", json=body,
                           headers={**bearer, "Idempotency-Key": "k-3"})
    assert_problem(response, 409, "idempotency-key-reused")


def test_keys_are_scoped_per_api_client(client, db, create_api_client, customer_payload):
    from consentmgr.customers.models import Customer

    _, shop = create_api_client(name="shop")
    _, crm = create_api_client(name="crm")
    _post(client, {"Authorization": f"Bearer {shop}"}, customer_payload(), "same-key")
    response = _post(client, {"Authorization": f"Bearer {crm}"}, customer_payload(), "same-key")
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response.headers
    assert db.session.query(Customer).count() == 2


def test_a_failed_request_does_not_use_up_its_key(client, bearer, customer_payload):
    body = customer_payload()
    assert_problem(_post(client, bearer, {**body, "email": "nope"}, "k-4"), 422)
    assert _post(client, bearer, body, "k-4").status_code == 201


def test_answers_are_kept_for_24_hours(client, db, bearer, customer_payload):
    from consentmgr.customers.models import Customer

    body = customer_payload()
    with time_machine.travel(dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.timezone.utc), tick=False):
        _post(client, bearer, body, "k-5")
    with time_machine.travel(dt.datetime(2026, 5, 2, 11, 59, tzinfo=dt.timezone.utc), tick=False):
        assert _post(client, bearer, body, "k-5").headers.get("Idempotent-Replayed") == "true"
    with time_machine.travel(dt.datetime(2026, 5, 2, 12, 1, tzinfo=dt.timezone.utc), tick=False):
        # The key is free again: the request is processed anew (the email is now taken).
        assert_problem(_post(client, bearer, body, "k-5"), 409, "conflict")
    assert db.session.query(Customer).count() == 1


def test_an_invalid_key_is_422(client, bearer, customer_payload):
    body = assert_problem(_post(client, bearer, customer_payload(), "has spaces"), 422)
    assert set(body["errors"]) == {"Idempotency-Key"}


def test_stored_answers_hold_no_personal_data(client, db, bearer, customer_payload):
    from consentmgr.apiclients.models import IdempotencyRecord

    body = customer_payload(name="Zebedee Uniquename")
    _post(client, bearer, body, "k-6")
    record = db.session.query(IdempotencyRecord).one()
    stored = record.response_body + record.request_hash
    assert body["email"] not in stored and "Zebedee" not in stored


def test_expired_answers_are_purged(db, client, bearer, customer_payload):
    from consentmgr.apiclients.models import IdempotencyRecord
    from consentmgr.apiclients.services import purge_idempotency_keys

    _post(client, bearer, customer_payload(), "k-7")
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=25)
    assert purge_idempotency_keys(now=later) == 1
    db.session.commit()
    assert db.session.query(IdempotencyRecord).count() == 0


def test_a_retry_that_loses_the_race_for_its_key_replays_the_winners_answer(
        client, db, bearer, customer_payload, monkeypatch):
    import sqlalchemy as sa

    from consentmgr.customers.models import Customer
    from consentmgr.web.api import idempotency

    body = customer_payload()
    first = _post(client, bearer, body, "race-1")

    def lose_the_race(*args, **kwargs):
        # A concurrent request with this key committed while ours waited.
        raise sa.exc.IntegrityError("INSERT", {}, Exception("duplicate key"))

    monkeypatch.setattr(idempotency, "claim_idempotency_key", lose_the_race)
    again = _post(client, bearer, body, "race-1")

    assert again.status_code == first.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert db.session.query(Customer).count() == 1


def _erase_through_the_api(client, headers, customer_id):
    filed = client.post("/api/v1/requests", json={"customer_id": str(customer_id),
                                                  "type": "erasure"}, headers=headers)
    approved = client.post(f"/api/v1/requests/{filed.get_json()['id']}/approve", json={},
                           headers=headers)
    assert approved.get_json()["status"] == "completed", approved.get_data(as_text=True)


def test_the_stored_answer_is_encrypted_under_the_customer_it_is_about(client, db, bearer,
                                                                      customer_payload):
    import sqlalchemy as sa

    from consentmgr.apiclients.models import IdempotencyRecord

    created = _post(client, bearer, customer_payload(external_ref="crm-MRKREF77"), "k-8")
    raw = db.session.execute(sa.select(IdempotencyRecord.__table__)).one()._mapping
    assert str(raw["customer_id"]) == created.get_json()["id"]
    assert b"crm-MRKREF77" not in bytes(raw["response_body"])
    assert "k-8" not in repr(dict(raw))  # the key itself is kept only as a blind index


def test_an_answer_about_a_history_entry_is_encrypted_under_the_customer_in_the_url(
        client, db, bearer, create_customer):
    from consentmgr.apiclients.models import IdempotencyRecord

    customer = create_customer()
    body = {"occurred_at": "2026-01-01T10:00:00Z", "channel": "web", "kind": "visit",
            "data_category": "visits", "summary": "Visited the shop"}
    url = f"/api/v1/customers/{customer.id}/history"
    first = client.post(url, json=body, headers={**bearer, "Idempotency-Key": "h-1"})
    again = client.post(url, json=body, headers={**bearer, "Idempotency-Key": "h-1"})
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert db.session.query(IdempotencyRecord).one().customer_id == customer.id


def test_a_retry_after_the_customers_erasure_is_409_and_does_nothing_again(
        client, db, bearer, policy, customer_payload):
    from consentmgr.customers.models import Customer

    body = customer_payload(external_ref="crm-77")
    created = _post(client, bearer, body, "k-9").get_json()
    _erase_through_the_api(client, bearer, created["id"])
    problem = assert_problem(_post(client, bearer, body, "k-9"), 409, "conflict")
    assert "erased" in problem["detail"] and created["id"] not in str(problem)
    assert db.session.query(Customer).count() == 1  # not created again


def test_a_retried_approval_of_an_erasure_is_409_once_the_customer_is_gone(
        client, db, bearer, policy, create_customer):
    from consentmgr.apiclients.models import IdempotencyRecord

    customer = create_customer()
    filed = client.post("/api/v1/requests", json={"customer_id": str(customer.id),
                                                  "type": "erasure"}, headers=bearer)
    url = f"/api/v1/requests/{filed.get_json()['id']}/approve"
    first = client.post(url, json={}, headers={**bearer, "Idempotency-Key": "a-1"})
    assert first.status_code == 200 and first.get_json()["status"] == "completed"
    # The request erased the customer it answered about: no key left to keep the answer under.
    stored = db.session.query(IdempotencyRecord).one()
    assert stored.customer_id == customer.id and stored._response_body is None
    again = client.post(url, json={}, headers={**bearer, "Idempotency-Key": "a-1"})
    assert_problem(again, 409, "conflict")
