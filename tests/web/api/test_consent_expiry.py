"""Consent that expires, through the API: the fast check, the batch and the overview say so."""

from __future__ import annotations

import datetime as dt

import pytest

from consentmgr.policies.services import publish_policies
from consentmgr.sql import utcnow
from tests.conftest import TEST_ACTOR
from tests.consent.expiring import EXPIRING, SURVEYS, TERM, write_expiring_policy


@pytest.fixture
def expiring_policy(db, tmp_path):
    publish_policies(write_expiring_policy(tmp_path / "policies"), actor=TEST_ACTOR)
    db.session.commit()


def record(client, bearer, customer_id, collected_at: dt.datetime | None = None, **body):
    body = {"purpose": EXPIRING, "action": "granted", **body}
    if collected_at is not None:
        body["collected_at"] = collected_at.isoformat()
    response = client.post(f"/api/v1/customers/{customer_id}/consents", json=body,
                           headers=bearer)
    assert response.status_code == 201, response.get_json()


def test_the_check_says_expired_once_the_term_is_over(client, bearer, expiring_policy,
                                                       create_customer):
    customer = create_customer()
    collected = (utcnow() - TERM - dt.timedelta(days=1)).replace(microsecond=0)
    record(client, bearer, customer.id, collected_at=collected)

    decision = client.get(f"/api/v1/customers/{customer.id}/consents/{EXPIRING}",
                          headers=bearer).get_json()

    assert (decision["allowed"], decision["status"], decision["reason"]) == (
        False, "expired", "expired")
    assert dt.datetime.fromisoformat(decision["expires_at"]) == collected + TERM


def test_a_fresh_grant_tells_when_it_ends(client, bearer, expiring_policy, create_customer):
    customer = create_customer()
    record(client, bearer, customer.id)

    decision = client.get(f"/api/v1/customers/{customer.id}/consents/{EXPIRING}",
                          headers=bearer).get_json()

    assert decision["allowed"] is True
    ends = dt.datetime.fromisoformat(decision["expires_at"])
    assert utcnow() + TERM - dt.timedelta(minutes=5) < ends <= utcnow() + TERM


def test_the_batch_check_says_expired_and_keeps_expires_at_null_without_a_term(
        client, bearer, expiring_policy, create_customer):
    old, fresh = create_customer(), create_customer()
    record(client, bearer, old.id, collected_at=utcnow() - 2 * TERM)
    record(client, bearer, fresh.id, purpose=SURVEYS)
    checks = [{"customer_id": str(old.id), "purpose": EXPIRING},
              {"customer_id": str(fresh.id), "purpose": SURVEYS}]

    results = client.post("/api/v1/consent-checks", json={"checks": checks},
                          headers=bearer).get_json()["results"]

    assert [(r["allowed"], r["reason"]) for r in results] == [(False, "expired"),
                                                             (True, "consent-given")]
    assert results[0]["expires_at"] is not None and results[1]["expires_at"] is None


def test_the_overview_shows_expired(client, bearer, expiring_policy, create_customer):
    customer = create_customer()
    record(client, bearer, customer.id, collected_at=utcnow() - 2 * TERM)

    consents = client.get(f"/api/v1/customers/{customer.id}/consents",
                          headers=bearer).get_json()["consents"]

    assert {c["purpose"]: c["status"] for c in consents}[EXPIRING] == "expired"
