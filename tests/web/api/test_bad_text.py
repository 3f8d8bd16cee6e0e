"""Unstorable text (a lone surrogate, NUL, other control characters) is a 422 naming the field.

Every API write and every text-taking query or path parameter; nothing is
written. PostgreSQL refuses NUL in text columns itself: that must be a 422
too, never a 500.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consentmgr.extensions import db as _db
from tests.web.api.conftest import assert_problem

LONE_SURROGATE = "\ud800"
NUL = "a\u0000b"
BAD_VALUES = [pytest.param(LONE_SURROGATE, id="lone-surrogate"), pytest.param(NUL, id="nul")]
HISTORY = {"occurred_at": "2026-03-02T10:15:00Z", "channel": "web", "kind": "purchase",
           "data_category": "orders", "summary": "Order 1234: seeds"}


def _counts() -> dict[str, int]:
    """Rows in every table: a refused request must not change any of them."""
    return {table.name: _db.session.scalar(sa.select(sa.func.count()).select_from(table))
            for table in _db.metadata.sorted_tables}


def _with(body: dict[str, Any], path: str, value: str) -> dict[str, Any]:
    """``body`` with ``value`` put at the dotted ``path`` (list positions as numbers)."""
    body = json.loads(json.dumps(body))
    target: Any = body
    *parents, last = path.split(".")
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target.setdefault(part, {})
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return body


@pytest.fixture
def world(client, bearer, policy, create_customer):
    """A customer and an open request to write against."""
    customer = create_customer()
    filed = client.post("/api/v1/requests", json={"customer_id": str(customer.id), "type": "access"},
                        headers=bearer)
    assert filed.status_code == 201, filed.get_data(as_text=True)
    return {"customer": str(customer.id), "request": filed.get_json()["id"]}


def _customer_body() -> dict[str, Any]:
    return {"email": "bad-text@example.org", "name": "Ada Example", "phone": "+44 20 7946 0958",
            "postal_address": "1 Example Street\nLondon", "external_ref": "crm-1",
            "preferences": {"channels": ["email"], "language": "en", "topics": ["garden"]}}


# (method, path, valid body, the field to spoil)
WRITES = [
    *[("post", "/api/v1/customers", _customer_body(), field)
      for field in ("email", "name", "phone", "postal_address", "external_ref",
                    "preferences.language", "preferences.topics.0")],
    *[("patch", "/api/v1/customers/{customer}", {"name": "Ada"}, field)
      for field in ("name", "email", "phone", "postal_address")],
    *[("post", "/api/v1/customers/{customer}/history", HISTORY, field)
      for field in ("summary", "data_category", "details.order", "channel")],
    *[("post", "/api/v1/customers/{customer}/consents",
       {"purpose": "personalisation", "action": "granted", "evidence": {"note": "checkout"}}, field)
      for field in ("purpose", "policy_version", "evidence.note", "notice_hash", "action")],
    ("post", "/api/v1/consent-checks",
     {"checks": [{"customer_id": "{customer}", "purpose": "personalisation"}]}, "checks.0.purpose"),
    *[("post", "/api/v1/requests", {"customer_id": "{customer}", "type": "objection",
                                    "purpose": "analytics"}, field)
      for field in ("notes", "purpose", "type")],
    *[("post", "/api/v1/requests/{request}/refuse",
       {"reason_code": "other", "explanation": "Not possible"}, field)
      for field in ("explanation", "reason_code")],
]


@pytest.mark.parametrize("bad", BAD_VALUES)
@pytest.mark.parametrize("method,path,body,field", WRITES,
                         ids=[f"{m} {p} {f}" for m, p, _, f in WRITES])
def test_unstorable_text_in_any_field_is_a_422_naming_it_and_changes_nothing(
        client, bearer, world, method, path, body, field, bad):
    body = json.loads(json.dumps(body).replace("{customer}", world["customer"]))
    before = _counts()
    response = getattr(client, method)(path.format(**world), json=_with(body, field, bad),
                                       headers={**bearer, "Idempotency-Key": f"k-{field}-{len(bad)}"})
    problem = assert_problem(response, 422, "invalid-input")
    assert list(problem["errors"]) == [field]
    assert bad not in response.get_data(as_text=True)
    assert _counts() == before


@pytest.mark.parametrize("bad", BAD_VALUES)
def test_a_key_with_unstorable_text_is_reported_on_its_mapping_not_echoed(client, bearer, world,
                                                                          bad):
    before = _counts()
    response = client.post(f"/api/v1/customers/{world['customer']}/history",
                           json={**HISTORY, "details": {bad: "x"}}, headers=bearer)
    assert list(assert_problem(response, 422)["errors"]) == ["details"]
    response = client.post(f"/api/v1/customers/{world['customer']}/history",
                           json={**HISTORY, bad: "x"}, headers=bearer)
    assert list(assert_problem(response, 422)["errors"]) == ["_schema"]
    assert _counts() == before


def test_multi_line_text_may_hold_newlines_and_tabs(client, bearer, world):
    response = client.post(f"/api/v1/customers/{world['customer']}/history",
                           json={**HISTORY, "summary": "Order 1234:\n\tseeds\r\n"}, headers=bearer)
    assert response.status_code == 201, response.get_data(as_text=True)


@pytest.mark.parametrize("value", ["Ada\nExample", "Ada\tExample", "Ada\x1bExample"])
def test_a_name_may_not_hold_a_newline_or_another_control_character(client, bearer, world, value):
    response = client.patch(f"/api/v1/customers/{world['customer']}", json={"name": value},
                            headers=bearer)
    assert list(assert_problem(response, 422)["errors"]) == ["name"]


def test_nul_in_the_email_query_is_a_422_naming_it(client, bearer, world):
    before = _counts()
    response = client.get("/api/v1/customers", query_string={"email": "a\u0000@example.org"},
                          headers=bearer)
    assert list(assert_problem(response, 422)["errors"]) == ["email"]
    assert _counts() == before


def test_nul_in_other_query_parameters_is_a_422_naming_them(client, bearer, world):
    response = client.get("/api/v1/requests", query_string={"status": NUL}, headers=bearer)
    assert list(assert_problem(response, 422)["errors"]) == ["status"]
    response = client.get("/api/v1/customers", query_string={"email": "a@example.org",
                                                            "e\u0000": "1"}, headers=bearer)
    assert list(assert_problem(response, 422)["errors"]) == ["_schema"]


@pytest.mark.parametrize("path,parameter", [
    ("/api/v1/customers/{customer}/consents/a%00b", "purpose"),
    ("/api/v1/policies/2026%00", "version"),
])
def test_nul_in_a_path_parameter_is_a_422_naming_it(client, bearer, world, path, parameter):
    response = client.get(path.format(**world), headers=bearer)
    assert list(assert_problem(response, 422)["errors"]) == [parameter]


def test_the_services_refuse_unstorable_text_whoever_calls_them(db, create_customer):
    from consentmgr.customers import services
    from consentmgr.errors import ValidationFailed
    from tests.conftest import TEST_ACTOR

    customer = create_customer()
    for changes in ({"name": LONE_SURROGATE}, {"postal_address": NUL}):
        with pytest.raises(ValidationFailed) as refused:
            services.rectify_customer(customer, changes, actor=TEST_ACTOR)
        assert list(refused.value.errors) == list(changes)
    with pytest.raises(ValidationFailed) as refused:
        services.add_history(customer, {**HISTORY, "summary": LONE_SURROGATE}, actor=TEST_ACTOR)
    assert list(refused.value.errors) == ["summary"]


# Text with at least one unstorable character: a control (bar tab/newlines) or a lone surrogate.
_unstorable = st.builds(
    lambda before, bad, after: before + bad + after,
    st.text(max_size=5), st.sampled_from([chr(c) for c in range(0x20) if c not in (9, 10, 13)]
                                         + ["\ud800", "\udbff", "\udc00", "\udfff"]),
    st.text(max_size=5))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(["name", "phone", "postal_address", "email", "external_ref"]),
       value=_unstorable)
def test_any_unstorable_text_in_a_new_customer_is_refused_by_name(client, bearer, field, value):
    response = client.post("/api/v1/customers", json={**_customer_body(), field: value},
                           headers=bearer)
    problem = assert_problem(response, 422)
    assert list(problem["errors"]) == [field]
