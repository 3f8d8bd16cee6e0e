"""``GET /api/v1/customers/<id>/unsubscribe-link``: the one-click link for other systems' mails."""

from __future__ import annotations

import uuid

import pytest

from consentmgr.consent import services
from consentmgr.customers.services import erase_customer
from tests.conftest import TEST_ACTOR
from tests.web.api.conftest import assert_problem

PURPOSE = "marketing-email"


def url(customer_id, purpose: str | None = PURPOSE) -> str:
    query = "" if purpose is None else f"?purpose={purpose}"
    return f"/api/v1/customers/{customer_id}/unsubscribe-link{query}"


@pytest.fixture
def customer(db, policy, create_customer):
    customer = create_customer()
    services.grant_consent(customer, PURPOSE, actor=TEST_ACTOR, channel="api")
    db.session.commit()
    return customer


def test_the_link_and_its_headers_are_returned(app, client, bearer, customer):
    response = client.get(url(customer.id), headers=bearer)

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["customer_id"] == str(customer.id) and body["purpose"] == PURPOSE
    assert body["url"].startswith("http://127.0.0.1:5000/unsubscribe/")
    assert body["headers"] == {"List-Unsubscribe": f"<{body['url']}>",
                               "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    assert body["expires_at"]


def test_the_link_withdraws_the_consent_with_one_click(client, bearer, customer):
    link = client.get(url(customer.id), headers=bearer).get_json()["url"]

    response = client.post(link[link.index("/unsubscribe/"):],
                           data={"List-Unsubscribe": "One-Click"})

    assert response.status_code == 200
    assert services.check_consent(customer.id, PURPOSE).status == "withdrawn"


def test_the_link_needs_a_key_with_consent_read(client, create_api_client, customer):
    _, key = create_api_client(scopes="customers:read")

    response = client.get(url(customer.id), headers={"Authorization": f"Bearer {key}"})

    assert_problem(response, 403)
    assert_problem(client.get(url(customer.id)), 401)


@pytest.mark.parametrize(("path", "status"), [
    (lambda c: url(uuid.uuid4()), 404),  # no such customer
    (lambda c: url(c.id, "no-such-purpose"), 404),
    (lambda c: url(c.id, "account"), 422),  # a contract: no consent to withdraw
    (lambda c: url(c.id, "support"), 422),  # legitimate interest
    (lambda c: url(c.id, None), 422),  # no purpose
    (lambda c: url(c.id, "Not%20A%20Slug"), 422),
    (lambda c: url(c.id, "a%00b"), 422),
    (lambda c: url(c.id) + "&extra=1", 422),
    (lambda c: "/api/v1/customers/not-a-uuid/unsubscribe-link?purpose=marketing-email", 404),
])
def test_bad_input_is_a_problem(client, bearer, customer, path, status):
    assert_problem(client.get(path(customer), headers=bearer), status)


def test_no_link_for_an_erased_customer(client, bearer, db, customer):
    erase_customer(customer, actor=TEST_ACTOR)
    db.session.commit()

    assert_problem(client.get(url(customer.id), headers=bearer), 409)


def test_the_operation_is_documented(client):
    spec = client.get("/api/openapi.json").get_json()

    operation = spec["paths"]["/api/v1/customers/{customer_id}/unsubscribe-link"]["get"]
    assert operation["x-scope"] == "consent:read"
    assert {"200", "404", "409", "422"} <= set(operation["responses"])
