"""Idempotency-Key records: fingerprints, claims, replays, expiry."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa

from consentmgr.apiclients import idempotency
from consentmgr.apiclients.auth import AuthenticatedClient
from consentmgr.apiclients.models import IdempotencyRecord
from consentmgr.apiclients.services import create_client, forget_customer
from consentmgr.runtime import runtime
from tests.conftest import TEST_ACTOR

SECRET = "s" * 40


@pytest.fixture
def caller(db) -> AuthenticatedClient:
    client, _ = create_client("shop", "customers:write", actor=TEST_ACTOR)
    db.session.commit()
    return AuthenticatedClient(id=client.id, name=client.name, key_prefix=client.key_prefix,
                               scopes=frozenset(client.scopes))


def test_the_fingerprint_ignores_key_order_and_whitespace_in_json():
    one = idempotency.request_fingerprint("POST", "/api/v1/customers", b'{"a": 1, "b": 2}',
                                          secret=SECRET)
    two = idempotency.request_fingerprint("post", "/api/v1/customers", b'{"b":2,"a":1}',
                                          secret=SECRET)
    assert one == two


def test_the_fingerprint_is_keyed_by_the_secret_passed_in():
    body = b'{"email": "ada@example.org"}'
    assert (idempotency.request_fingerprint("POST", "/x", body, secret=SECRET)
            != idempotency.request_fingerprint("POST", "/x", body, secret="t" * 40))


def test_a_fresh_key_is_claimed_and_its_answer_replayed_afterwards(db, caller, create_customer):
    customer = create_customer()
    body, location = f'{{"id": "{customer.id}"}}', f"/api/v1/customers/{customer.id}"
    claim = idempotency.claim_idempotency_key(caller, "k-1", "hash-1")
    assert isinstance(claim, IdempotencyRecord)
    idempotency.complete_idempotency_key(claim, 201, body, location, customer_id=customer.id)
    db.session.commit()

    replay = idempotency.claim_idempotency_key(caller, "k-1", "hash-1")
    assert replay == idempotency.StoredResponse(201, body, location)


def test_the_answer_is_stored_encrypted_under_its_customers_key(db, caller, create_customer):
    customer = create_customer()
    body = f'{{"customer_id": "{customer.id}", "marker": "MRKANSWER"}}'
    claim = idempotency.claim_idempotency_key(caller, "k-1", "hash-1")
    idempotency.complete_idempotency_key(claim, 201, body, None, customer_id=customer.id)
    db.session.commit()
    raw = db.session.execute(sa.select(IdempotencyRecord.__table__)).one()._mapping
    assert raw["customer_id"] == customer.id
    assert b"MRKANSWER" not in bytes(raw["response_body"])
    assert db.session.get(IdempotencyRecord, raw["id"]).response_body == body


def test_the_key_is_stored_only_as_a_per_client_blind_index(db, caller):
    idempotency.claim_idempotency_key(caller, "crm-4711-create", "hash-1")
    db.session.commit()
    raw = db.session.execute(sa.select(IdempotencyRecord.__table__)).one()._mapping
    assert "crm-4711" not in repr(dict(raw))
    indexer = runtime().indexer("idempotency-key")
    key = "crm-4711-create"
    assert raw["key_index"] == indexer.compute(idempotency.indexed_key(caller.id, key))
    assert raw["key_index"] != indexer.compute(idempotency.indexed_key(uuid.uuid4(), key))


def test_an_answer_about_no_customer_is_replayed_as_status_and_location_only(db, caller):
    claim = idempotency.claim_idempotency_key(caller, "k-1", "hash-1")
    idempotency.complete_idempotency_key(claim, 202, '{"queued": true}', "/api/v1/elsewhere",
                                         customer_id=None)
    db.session.commit()
    assert (idempotency.claim_idempotency_key(caller, "k-1", "hash-1")
            == idempotency.StoredResponse(202, None, "/api/v1/elsewhere"))


def test_an_answer_about_an_erased_customer_is_refused_not_replayed(db, caller, create_customer):
    customer = create_customer()
    claim = idempotency.claim_idempotency_key(caller, "k-1", "hash-1")
    idempotency.complete_idempotency_key(claim, 201, f'{{"id": "{customer.id}"}}',
                                         f"/api/v1/customers/{customer.id}",
                                         customer_id=customer.id)
    db.session.commit()
    forget_customer(customer.id)
    db.session.commit()
    record = db.session.scalar(sa.select(IdempotencyRecord))
    assert record._response_body is None and record.location is None
    with pytest.raises(idempotency.AnswerErased):
        idempotency.claim_idempotency_key(caller, "k-1", "hash-1")


def test_the_same_key_with_another_request_is_refused(db, caller):
    idempotency.claim_idempotency_key(caller, "k-1", "hash-1")
    db.session.commit()
    with pytest.raises(idempotency.IdempotencyKeyReused):
        idempotency.claim_idempotency_key(caller, "k-1", "hash-2")


def test_a_record_older_than_24_hours_is_ignored_and_the_key_claimed_afresh(db, caller):
    idempotency.claim_idempotency_key(caller, "k-1", "hash-1")
    db.session.commit()
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=25)
    claim = idempotency.claim_idempotency_key(caller, "k-1", "hash-2", now=later)
    assert isinstance(claim, IdempotencyRecord) and claim.request_hash == "hash-2"
    db.session.commit()
    assert db.session.query(IdempotencyRecord).count() == 1


def test_the_stored_response_of_a_concurrent_winner_is_replayed_or_refused(db, caller):
    claim = idempotency.claim_idempotency_key(caller, "k-1", "hash-1")
    idempotency.complete_idempotency_key(claim, 201, "{}", None, customer_id=None)
    db.session.commit()
    assert idempotency.stored_response(caller, "k-1", "hash-1").status_code == 201
    with pytest.raises(idempotency.IdempotencyKeyReused):
        idempotency.stored_response(caller, "k-1", "hash-2")
