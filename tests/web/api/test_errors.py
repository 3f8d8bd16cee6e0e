"""Every error under /api is application/problem+json: never HTML, never a 500 for bad input."""

from __future__ import annotations

import pytest

from tests.web.api.conftest import PROBLEM_JSON, assert_problem
from tests.conftest import base_config

UNKNOWN = "00000000-0000-4000-8000-000000000000"


def test_malformed_json_is_400(client, bearer):
    response = client.post("/api/v1/customers", data='{"email": ', headers={
        **bearer, "Content-Type": "application/json"})
    body = assert_problem(response, 400, "malformed-request")
    assert body["detail"] == "The request body is not valid JSON."


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity"])
def test_json_extensions_such_as_nan_are_400(client, bearer, text):
    response = client.post("/api/v1/consent-checks", data='{"checks": %s}' % text, headers={
        **bearer, "Content-Type": "application/json"})
    assert_problem(response, 400, "malformed-request")


def test_a_body_that_is_not_utf8_is_400(client, bearer):
    response = client.post("/api/v1/customers", data=b'{"name": "\xff"}', headers={
        **bearer, "Content-Type": "application/json"})
    assert_problem(response, 400, "malformed-request")


def test_an_unknown_api_address_is_a_404_problem_not_an_html_page(client):
    response = client.get("/api/v1/no-such-thing")
    assert_problem(response, 404, "not-found")


def test_pages_outside_the_api_keep_their_html_error_page(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"


def test_an_unknown_customer_is_404(client, bearer):
    body = assert_problem(client.get(f"/api/v1/customers/{UNKNOWN}", headers=bearer), 404, "not-found")
    assert body["detail"] == "No customer with that id."


def test_a_malformed_customer_id_is_404(client, bearer):
    assert_problem(client.get("/api/v1/customers/not-a-uuid", headers=bearer), 404, "not-found")


def test_a_wrong_method_is_405_with_allow(client, bearer):
    response = client.delete(f"/api/v1/customers/{UNKNOWN}", headers=bearer)
    assert_problem(response, 405, "method-not-allowed")
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "PATCH"}
    assert "DELETE" not in response.headers["Allow"]


def test_a_body_over_one_mebibyte_is_413(client, bearer):
    response = client.post("/api/v1/customers", data="[" + " " * (1024 * 1024) + "]", headers={
        **bearer, "Content-Type": "application/json"})
    assert_problem(response, 413, "payload-too-large")


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_a_body_that_is_not_json_is_415(client, bearer, method):
    path = "/api/v1/customers" if method == "POST" else f"/api/v1/customers/{UNKNOWN}"
    response = client.open(path, method=method, data="email=a@example.org",
                           headers={**bearer, "Content-Type": "application/x-www-form-urlencoded"})
    assert_problem(response, 415, "unsupported-media-type")


def test_a_body_without_content_type_is_415(client, bearer):
    response = client.post("/api/v1/customers", data='{"name": "x"}', headers=bearer)
    assert_problem(response, 415, "unsupported-media-type")


def test_invalid_fields_are_422_with_errors_per_field(client, bearer):
    response = client.post("/api/v1/customers", json={"email": "not-an-email", "name": ""},
                           headers=bearer)
    body = assert_problem(response, 422, "invalid-input")
    assert set(body["errors"]) == {"email", "name"}
    assert all(isinstance(m, str) for messages in body["errors"].values() for m in messages)


def test_errors_never_echo_the_values_sent(client, bearer):
    response = client.post("/api/v1/customers", json={"email": "secret-value@", "name": "Zed"},
                           headers=bearer)
    assert_problem(response, 422)
    assert b"secret-value" not in response.data


def test_unknown_body_fields_are_rejected(client, bearer, customer_payload):
    body = assert_problem(client.post("/api/v1/customers", json=customer_payload(is_admin=True),
                                      headers=bearer), 422, "invalid-input")
    assert body["errors"] == {"is_admin": ["Unknown field."]}


def test_unknown_nested_fields_are_rejected(client, bearer, customer_payload):
    payload = customer_payload(preferences={"channels": ["email"], "colour": "blue"})
    body = assert_problem(client.post("/api/v1/customers", json=payload, headers=bearer), 422)
    assert "preferences.colour" in body["errors"]


def test_unknown_query_parameters_are_rejected(client, bearer, create_customer):
    customer = create_customer()
    body = assert_problem(client.get(f"/api/v1/customers/{customer.id}?histroy=true",
                                     headers=bearer), 422)
    assert body["errors"] == {"histroy": ["Unknown field."]}


@pytest.mark.parametrize("value", [0, 1, "yes", "true", "false"])
def test_json_booleans_are_strict(client, bearer, create_customer, policy, value):
    customer = create_customer()
    response = client.post(f"/api/v1/customers/{customer.id}/consents", headers=bearer, json={
        "purpose": "marketing-email", "action": "granted", "evidence": {"gpc": value}})
    body = assert_problem(response, 422, "invalid-input")
    assert body["errors"] == {"evidence.gpc": ["Must be a JSON boolean: true or false."]}


@pytest.mark.parametrize("value", ["1", "yes", "True", ""])
def test_query_booleans_are_strict(client, bearer, create_customer, value):
    customer = create_customer()
    response = client.get(f"/api/v1/customers/{customer.id}", query_string={"history": value},
                          headers=bearer)
    assert assert_problem(response, 422)["errors"] == {"history": ["Must be 'true' or 'false'."]}


def test_a_domain_conflict_is_409(client, bearer, customer_payload):
    payload = customer_payload()
    assert client.post("/api/v1/customers", json=payload, headers=bearer).status_code == 201
    again = customer_payload(email=payload["email"])
    body = assert_problem(client.post("/api/v1/customers", json=again, headers=bearer), 409, "conflict")
    assert body["errors"] == {"email": ["Another customer already uses this email address."]}


def test_an_unexpected_failure_is_a_500_problem_without_details(client, bearer, create_customer,
                                                                 monkeypatch):
    from consentmgr.web.api import views

    def explode(*args, **kwargs):
        raise RuntimeError("secret internal state")

    monkeypatch.setattr(views.consent, "check_consent", explode)
    customer = create_customer()
    response = client.get(f"/api/v1/customers/{customer.id}/consents/analytics", headers=bearer)
    assert_problem(response, 500, "server-error")
    assert b"secret internal state" not in response.data


def test_a_failed_write_changes_nothing(client, db, bearer, customer_payload):
    from consentmgr.customers.models import Customer

    response = client.post("/api/v1/customers", json=customer_payload(date_of_birth="2999-01-01"),
                           headers=bearer)
    assert_problem(response, 422)
    assert db.session.query(Customer).count() == 0


@pytest.fixture
def limited_app(tmp_path):
    """An app that allows two calls a minute per key."""
    from flask_migrate import upgrade

    from consentmgr import create_app
    from consentmgr.extensions import db as _db

    app = create_app(base_config(f"sqlite:///{tmp_path / 'limited.db'}", str(tmp_path),
                                 API_RATE_LIMIT="2 per minute"))
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        _db.engine.dispose()


def test_too_many_requests_is_429_with_retry_after(limited_app):
    client = limited_app.test_client()
    assert [client.get("/api/v1/ping").status_code for _ in range(2)] == [200, 200]
    response = client.get("/api/v1/ping")
    assert_problem(response, 429, "rate-limited")
    assert 1 <= int(response.headers["Retry-After"]) <= 61  # the window's end, rounded up


def test_problem_types_resolve_to_the_api_page(client):
    body = client.get("/api/v1/no-such-thing").get_json(force=True)
    page = client.get("/api/").get_data(as_text=True)
    anchor = body["type"].split("#", 1)[1]
    assert f'id="{anchor}"' in page
    assert client.get("/api/v1/no-such-thing").mimetype == PROBLEM_JSON
