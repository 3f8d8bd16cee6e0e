"""Bearer keys and scopes: who may call what."""

from __future__ import annotations

import uuid

import pytest

from tests.web.api.conftest import assert_problem

UNKNOWN = "00000000-0000-4000-8000-000000000000"

# (method, path, json body, scope it needs). Bodies are valid enough to get
# past parsing, so the only reason for a 401/403 is the key.
OPERATIONS = [
    ("GET", "/api/v1/customers?email=a%40example.org", None, "customers:read"),
    ("POST", "/api/v1/customers", {"email": "scope@example.org", "name": "S"}, "customers:write"),
    ("GET", f"/api/v1/customers/{UNKNOWN}", None, "customers:read"),
    ("PATCH", f"/api/v1/customers/{UNKNOWN}", {"name": "S"}, "customers:write"),
    ("POST", f"/api/v1/customers/{UNKNOWN}/history",
     {"occurred_at": "2026-01-01T10:00:00Z", "channel": "web", "kind": "visit",
      "data_category": "visits", "summary": "s"}, "customers:write"),
    ("GET", f"/api/v1/customers/{UNKNOWN}/consents", None, "consent:read"),
    ("POST", f"/api/v1/customers/{UNKNOWN}/consents",
     {"purpose": "marketing-email", "action": "granted"}, "consent:write"),
    ("GET", f"/api/v1/customers/{UNKNOWN}/consents/marketing-email", None, "consent:read"),
    ("POST", "/api/v1/consent-checks",
     {"checks": [{"customer_id": UNKNOWN, "purpose": "marketing-email"}]}, "consent:read"),
    ("GET", "/api/v1/events", None, "events:read"),
]
ALL_SCOPES = ("customers:read", "customers:write", "consent:read", "consent:write", "events:read")


def _call(client, method, path, body, headers):
    return client.open(path, method=method, json=body, headers=headers)


@pytest.mark.parametrize("method,path,body,scope", OPERATIONS, ids=[f"{o[0]} {o[1]}" for o in OPERATIONS])
def test_a_missing_key_is_401_with_a_bearer_challenge(client, method, path, body, scope):
    response = _call(client, method, path, body, {})
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="consentmgr"'


def test_an_unknown_key_is_401_invalid_token(client):
    response = client.get("/api/v1/events", headers={"Authorization": "Bearer cmk_" + "x" * 43})
    body = assert_problem(response, 401, "unauthenticated")
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert body["detail"] == "This API key is not known."


def test_a_key_of_another_format_is_401(client):
    response = client.get("/api/v1/events", headers={"Authorization": "Bearer not-one-of-ours"})
    assert_problem(response, 401, "unauthenticated")
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_another_auth_scheme_is_401(client, api_key):
    response = client.get("/api/v1/events", headers={"Authorization": f"Basic {api_key}"})
    assert_problem(response, 401, "unauthenticated")


def test_a_revoked_key_is_401(client, db, create_api_client):
    from consentmgr.apiclients.services import revoke_client
    from tests.conftest import TEST_ACTOR

    api_client, key = create_api_client()
    assert client.get("/api/v1/events", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    revoke_client(api_client, actor=TEST_ACTOR)
    db.session.commit()
    response = client.get("/api/v1/events", headers={"Authorization": f"Bearer {key}"})
    body = assert_problem(response, 401, "unauthenticated")
    assert body["detail"] == "This API key has been revoked."


def test_a_key_revoked_elsewhere_keeps_working_while_cached(client, db, create_api_client):
    import sqlalchemy as sa

    from consentmgr.apiclients.models import ApiClient

    api_client, key = create_api_client()
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/events", headers=headers).status_code == 200
    # Another process (the CLI, another worker) revokes the key.
    db.session.execute(sa.update(ApiClient).where(ApiClient.id == api_client.id)
                       .values(revoked_at=sa.func.now()))
    db.session.commit()
    assert client.get("/api/v1/events", headers=headers).status_code == 200


def test_with_api_key_cache_seconds_0_a_key_revoked_elsewhere_is_refused_at_once(
        app, client, db, create_api_client, monkeypatch):
    import sqlalchemy as sa

    from consentmgr.apiclients.models import ApiClient

    monkeypatch.setitem(app.config, "API_KEY_CACHE_SECONDS", 0)
    api_client, key = create_api_client()
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/events", headers=headers).status_code == 200
    db.session.execute(sa.update(ApiClient).where(ApiClient.id == api_client.id)
                       .values(revoked_at=sa.func.now()))
    db.session.commit()
    assert_problem(client.get("/api/v1/events", headers=headers), 401, "unauthenticated")


@pytest.mark.parametrize("method,path,body,scope", OPERATIONS, ids=[f"{o[0]} {o[1]}" for o in OPERATIONS])
def test_each_operation_refuses_keys_without_its_scope(client, create_api_client, method, path,
                                                       body, scope):
    _, key = create_api_client(scopes=[s for s in ALL_SCOPES if s != scope])
    response = _call(client, method, path, body, {"Authorization": f"Bearer {key}"})
    problem = assert_problem(response, 403, "insufficient-scope")
    assert scope in problem["detail"]
    assert f'scope="{scope}"' in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("method,path,body,scope", OPERATIONS, ids=[f"{o[0]} {o[1]}" for o in OPERATIONS])
def test_each_operation_admits_a_key_with_only_its_scope(client, create_api_client, policy,
                                                         method, path, body, scope):
    _, key = create_api_client(scopes=[scope])
    response = _call(client, method, path, body, {"Authorization": f"Bearer {key}"})
    assert response.status_code not in (401, 403), response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/api/v1/ping", "/api/v1/policies", "/api/v1/purposes"])
def test_public_operations_need_no_key(client, policy, path):
    assert client.get(path).status_code == 200


def test_a_call_records_when_the_client_was_last_used(client, db, create_api_client):
    from consentmgr.apiclients.models import ApiClient

    api_client, key = create_api_client()
    assert api_client.last_used_at is None
    client.get("/api/v1/events", headers={"Authorization": f"Bearer {key}"})
    db.session.expire_all()
    assert db.session.get(ApiClient, api_client.id).last_used_at is not None


def test_last_use_is_written_at_most_once_a_minute(client, db, create_api_client):
    from consentmgr.apiclients.models import ApiClient

    api_client, key = create_api_client()
    client.get("/api/v1/events", headers={"Authorization": f"Bearer {key}"})
    db.session.expire_all()
    first = db.session.get(ApiClient, api_client.id).last_used_at
    client.get("/api/v1/events", headers={"Authorization": f"Bearer {key}"})
    db.session.expire_all()
    assert db.session.get(ApiClient, api_client.id).last_used_at == first


def test_the_api_client_is_the_audited_actor(client, db, bearer, create_customer):
    from consentmgr.audit.models import AuditEntry

    customer = create_customer()
    client.get(f"/api/v1/customers/{customer.id}", headers=bearer)
    entry = db.session.query(AuditEntry).filter_by(action="api.customer.read").one()
    assert entry.actor_type == "api-client"
    uuid.UUID(entry.actor_id)  # the client's id, never its name or key
