"""Webhooks through the API: register (secret shown once), list, read, change, delete, rotate."""

from __future__ import annotations

import sqlalchemy as sa

from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from consentmgr.webhooks.models import WebhookSubscription
from tests.web.api.conftest import assert_problem

PUBLIC = "https://93.184.216.34/hooks"  # an address literal: no DNS needed, and public
TYPES = ["consent.changed", "customer.erased"]


def _headers(create_api_client, *scopes: str, name: str = "crm") -> dict[str, str]:
    return {"Authorization": f"Bearer {create_api_client(scopes=list(scopes), name=name)[1]}"}


def _writer(create_api_client, name: str = "crm") -> dict[str, str]:
    return _headers(create_api_client, "webhooks:write", "events:read", name=name)


def _register(client, headers, url=PUBLIC, types=TYPES):
    return client.post("/api/v1/webhooks", json={"url": url, "event_types": types},
                       headers=headers)


def _count(db) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(WebhookSubscription))


def test_registration_answers_the_secret_once(client, create_api_client):
    headers = _writer(create_api_client)
    response = _register(client, headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert body["secret"].startswith("whsec_") and body["url"] == PUBLIC
    assert body["event_types"] == TYPES and body["active"] is True
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Location"].endswith(f"/api/v1/webhooks/{body['id']}")

    listed = client.get("/api/v1/webhooks", headers=headers).get_json()["webhooks"]
    assert [w["id"] for w in listed] == [body["id"]] and "secret" not in listed[0]
    one = client.get(f"/api/v1/webhooks/{body['id']}", headers=headers).get_json()
    assert "secret" not in one and one["id"] == body["id"]


def test_registration_is_audited_without_url_or_secret(client, db, create_api_client):
    body = _register(client, _writer(create_api_client)).get_json()
    entry = db.session.scalar(sa.select(AuditEntry).where(
        AuditEntry.action == actions.WEBHOOK_REGISTERED))
    assert entry.details == {"webhook_id": body["id"], "event_types": 2}
    assert "93.184" not in repr(entry.details) and body["secret"] not in repr(entry.details)


def test_webhooks_need_the_webhooks_write_scope(client, create_api_client):
    headers = _headers(create_api_client, "events:read")
    assert_problem(_register(client, headers), 403, "insufficient-scope")
    assert_problem(client.get("/api/v1/webhooks", headers=headers), 403, "insufficient-scope")
    assert_problem(client.get("/api/v1/webhooks"), 401)


def test_customer_events_also_need_events_read(client, db, create_api_client):
    headers = _headers(create_api_client, "webhooks:write")
    problem = assert_problem(_register(client, headers), 403, "insufficient-scope")
    assert "events:read" in problem["detail"]
    assert _register(client, headers, types=["policy.published"]).status_code == 201


def test_another_clients_webhook_is_not_found(client, create_api_client):
    mine = _register(client, _writer(create_api_client)).get_json()
    theirs = _writer(create_api_client, name="shop")
    assert_problem(client.get(f"/api/v1/webhooks/{mine['id']}", headers=theirs), 404)
    assert_problem(client.delete(f"/api/v1/webhooks/{mine['id']}", headers=theirs), 404)
    assert client.get("/api/v1/webhooks", headers=theirs).get_json()["webhooks"] == []


def test_patch_changes_what_is_given(client, create_api_client):
    headers = _writer(create_api_client)
    made = _register(client, headers).get_json()
    changed = client.patch(f"/api/v1/webhooks/{made['id']}", headers=headers,
                           json={"active": False, "event_types": ["policy.published"]})
    assert changed.status_code == 200, changed.get_data(as_text=True)
    body = changed.get_json()
    assert body["active"] is False and body["event_types"] == ["policy.published"]
    assert body["url"] == PUBLIC


def test_delete_removes_the_webhook(client, db, create_api_client):
    headers = _writer(create_api_client)
    made = _register(client, headers).get_json()
    assert client.delete(f"/api/v1/webhooks/{made['id']}", headers=headers).status_code == 204
    assert_problem(client.get(f"/api/v1/webhooks/{made['id']}", headers=headers), 404)
    assert _count(db) == 0


def test_rotation_answers_a_new_secret_once(client, create_api_client):
    headers = _writer(create_api_client)
    made = _register(client, headers).get_json()
    rotated = client.post(f"/api/v1/webhooks/{made['id']}/rotate-secret", json={},
                          headers=headers)
    assert rotated.status_code == 200, rotated.get_data(as_text=True)
    secret = rotated.get_json()["secret"]
    assert secret.startswith("whsec_") and secret != made["secret"]
    assert rotated.headers["Cache-Control"] == "no-store"


def _refused(client, db, headers, field: str, words: str, **body) -> None:
    response = client.post("/api/v1/webhooks", json={"url": PUBLIC, "event_types": TYPES, **body},
                           headers=headers)
    problem = assert_problem(response, 422)
    assert field in problem["errors"], problem
    assert words in " ".join(problem["errors"][field]), problem
    assert _count(db) == 0


def test_a_url_that_is_not_http_is_refused_by_name(client, db, create_api_client):
    _refused(client, db, _writer(create_api_client), "url", "https://",
             url="ftp://93.184.216.34/in")


def test_a_url_too_long_is_refused_by_name(client, db, create_api_client):
    _refused(client, db, _writer(create_api_client), "url", "too long",
             url="https://93.184.216.34/" + "a" * 2000)


def test_a_private_or_loopback_target_is_refused_by_name(client, db, create_api_client):
    headers = _writer(create_api_client)
    for url, words in (("http://127.0.0.1:8080/in", "loopback"),
                       ("http://169.254.169.254/latest", "link-local"),
                       ("http://10.0.0.7/in", "private"), ("http://[::1]/in", "loopback")):
        _refused(client, db, headers, "url", words, url=url)


def test_unknown_event_types_are_refused_by_name(client, db, create_api_client):
    _refused(client, db, _writer(create_api_client), "event_types", "customer.deleted",
             event_types=["consent.changed", "customer.deleted"])


def test_no_event_types_is_refused(client, db, create_api_client):
    _refused(client, db, _writer(create_api_client), "event_types", "at least one",
             event_types=[])


def test_a_refused_change_changes_nothing(client, create_api_client):
    headers = _writer(create_api_client)
    made = _register(client, headers).get_json()
    problem = assert_problem(client.patch(f"/api/v1/webhooks/{made['id']}", headers=headers,
                                          json={"url": "http://192.168.1.1/", "active": False}),
                             422)
    assert "url" in problem["errors"]
    after = client.get(f"/api/v1/webhooks/{made['id']}", headers=headers).get_json()
    assert after["url"] == PUBLIC and after["active"] is True


def test_the_operator_setting_allows_private_targets(client, app, db, create_api_client,
                                                     monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOKS_ALLOW_PRIVATE", True)
    response = _register(client, _writer(create_api_client), url="http://127.0.0.1:9/in")
    assert response.status_code == 201


def test_webhooks_are_in_the_openapi_document(client):
    spec = client.get("/api/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/webhooks"]["post"]
    assert operation["x-scope"] == "webhooks:write"
    assert "/api/v1/webhooks/{webhook_id}/rotate-secret" in spec["paths"]


def test_a_retried_registration_registers_once_and_never_stores_the_secret(
        client, db, create_api_client):
    headers = {**_writer(create_api_client), "Idempotency-Key": "hook-1"}
    first = _register(client, headers)
    again = _register(client, headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    assert "secret" not in (again.get_json(silent=True) or {})
    assert _count(db) == 1
    secret = first.get_json()["secret"]
    from tests.test_no_plaintext import _rows_holding

    assert _rows_holding(db, [secret, secret.removeprefix("whsec_")]) == []
