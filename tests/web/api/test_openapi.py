"""The OpenAPI document and the human-readable API page."""

from __future__ import annotations

import re

from markdown_it import MarkdownIt

from consentmgr.apiclients.services import SCOPES

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


def _spec(client):
    return client.get("/api/openapi.json").get_json()


def _operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield method, path, operation


def test_the_document_is_openapi_3(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.get_json()["openapi"].startswith("3.")


def test_every_operation_of_the_issue_is_documented(client):
    documented = {(m.upper(), p) for m, p, _ in _operations(_spec(client))}
    assert documented >= {
        ("POST", "/api/v1/customers"), ("GET", "/api/v1/customers"),
        ("GET", "/api/v1/customers/{customer_id}"), ("PATCH", "/api/v1/customers/{customer_id}"),
        ("POST", "/api/v1/customers/{customer_id}/history"),
        ("GET", "/api/v1/customers/{customer_id}/consents"),
        ("POST", "/api/v1/customers/{customer_id}/consents"),
        ("GET", "/api/v1/customers/{customer_id}/consents/{purpose}"),
        ("POST", "/api/v1/consent-checks"), ("GET", "/api/v1/events"),
        ("GET", "/api/v1/policies"), ("GET", "/api/v1/policies/{version}"),
        ("GET", "/api/v1/purposes"), ("GET", "/api/v1/ping"),
        ("POST", "/api/v1/requests"), ("GET", "/api/v1/requests"),
        ("GET", "/api/v1/requests/{request_id}"), ("POST", "/api/v1/requests/{request_id}/approve"),
        ("POST", "/api/v1/requests/{request_id}/refuse"),
        ("GET", "/api/v1/customers/{customer_id}/export"),
    }


def test_every_error_response_is_documented_as_problem_json(client):
    spec = _spec(client)
    for _, _, operation in _operations(spec):
        for status, response in operation["responses"].items():
            if "$ref" in response:
                response = spec["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
            if status == "default" or int(status) >= 400:
                assert list(response["content"]) == ["application/problem+json"], status


def test_protected_operations_declare_bearer_auth_and_their_scope(client):
    spec = _spec(client)
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": "An API key: `Authorization: Bearer cmk_...`"}
    for method, path, operation in _operations(spec):
        if operation.get("security") == []:
            assert "x-scope" not in operation
        else:
            assert operation["security"] == [{"bearerAuth": []}]
            assert operation["x-scope"] in SCOPES, (method, path)


def test_input_schemas_reject_unknown_fields(client):
    schemas = _spec(client)["components"]["schemas"]
    for name in ("CustomerInput", "CustomerChanges", "HistoryEntry", "ConsentRecordInput",
                 "ConsentChecksInput", "EvidenceInput", "RequestInput", "ApprovalInput",
                 "RefusalInput"):
        assert schemas[name]["additionalProperties"] is False, name


def test_creating_posts_document_the_idempotency_key(client):
    spec = _spec(client)
    for path in ("/api/v1/customers", "/api/v1/customers/{customer_id}/history",
                 "/api/v1/customers/{customer_id}/consents", "/api/v1/requests",
                 "/api/v1/requests/{request_id}/approve", "/api/v1/requests/{request_id}/refuse"):
        names = [p["name"] for p in spec["paths"][path]["post"]["parameters"]]
        assert "Idempotency-Key" in names, path


def test_the_api_page_lists_every_operation(client):
    page = client.get("/api/").get_data(as_text=True)
    for method, path, operation in _operations(_spec(client)):
        assert f"{method.upper()}</span> <code class=\"hash\">{path}</code>" in page
        assert MarkdownIt().renderInline(operation["summary"]) in page


def test_the_api_page_has_one_h1_and_an_anchor_per_problem_type(client):
    from consentmgr.web.api.errors import PROBLEM_TYPES

    page = client.get("/api/").get_data(as_text=True)
    assert page.count("<h1") == 1
    for slug in PROBLEM_TYPES:
        assert f'id="problem-{slug}"' in page


def test_the_api_page_loads_nothing_from_elsewhere(client):
    page = client.get("/api/").get_data(as_text=True)
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    # "data:," is the empty icon in the layout: inline, nothing fetched.
    assert all(s.startswith(("/", "#", "http://127.0.0.1")) or s == "data:," for s in sources), sources
    assert "<script" not in page


def test_the_api_page_shows_a_curl_example_with_the_bearer_key(client):
    page = client.get("/api/").get_data(as_text=True)
    assert "curl -sS -X GET" in page
    assert "Authorization: Bearer $CONSENTMGR_API_KEY" in page


def test_the_new_scopes_are_offered_and_each_guards_its_operations(client):
    spec = _spec(client)
    scope_of = {(m.upper(), p): op.get("x-scope") for m, p, op in _operations(spec)}
    assert {"requests:read", "requests:write", "requests:decide", "customers:export"} <= set(SCOPES)
    assert scope_of[("POST", "/api/v1/requests")] == "requests:write"
    assert scope_of[("GET", "/api/v1/requests")] == "requests:read"
    assert scope_of[("GET", "/api/v1/requests/{request_id}")] == "requests:read"
    assert scope_of[("POST", "/api/v1/requests/{request_id}/approve")] == "requests:decide"
    assert scope_of[("POST", "/api/v1/requests/{request_id}/refuse")] == "requests:decide"
    assert scope_of[("GET", "/api/v1/customers/{customer_id}/export")] == "customers:export"


def test_the_export_is_documented_as_a_zip(client):
    responses = _spec(client)["paths"]["/api/v1/customers/{customer_id}/export"]["get"]["responses"]
    assert responses["200"]["content"] == {
        "application/zip": {"schema": {"type": "string", "format": "binary"}}}
