"""``flask api-clients ...``: create (key shown once), list, revoke."""

from __future__ import annotations

import re


def _create(runner, name="shop", scopes="consent:read,customers:write"):
    return runner.invoke(args=["api-clients", "create", "--name", name, "--scopes", scopes])


def _key(output: str) -> str:
    return re.search(r"\b(cmk_[A-Za-z0-9_-]{43})\b", output).group(1)


def test_create_prints_the_key_once_and_stores_only_its_hash(runner, db):
    from consentmgr.apiclients.models import ApiClient
    from consentmgr.apiclients.services import hash_key

    result = _create(runner)
    assert result.exit_code == 0, result.output
    key = _key(result.output)
    stored = db.session.query(ApiClient).one()
    assert stored.key_hash == hash_key(key)
    assert stored.scopes == ["customers:write", "consent:read"]
    assert key not in repr(stored.__dict__)


def test_the_created_key_works_against_the_api(runner, client):
    key = _key(_create(runner, scopes="events:read").output)
    assert client.get("/api/v1/events", headers={"Authorization": f"Bearer {key}"}).status_code == 200


def test_an_unknown_scope_is_refused_with_the_valid_ones_named(runner, db):
    from consentmgr.apiclients.models import ApiClient

    result = _create(runner, scopes="consent:read,admin")
    assert result.exit_code == 1
    assert "Unknown scope(s): admin" in result.output
    assert "events:read" in result.output
    assert db.session.query(ApiClient).count() == 0


def test_the_request_and_export_scopes_can_be_granted(runner, db):
    from consentmgr.apiclients.models import ApiClient

    result = _create(runner, name="dpo-tool",
                     scopes="customers:export,requests:decide,requests:write,requests:read")
    assert result.exit_code == 0, result.output
    assert db.session.query(ApiClient).one().scopes == [
        "requests:read", "requests:write", "requests:decide", "customers:export"]


def test_a_blank_name_is_refused(runner):
    result = _create(runner, name="  ")
    assert result.exit_code == 1
    assert "--name" in result.output


def test_list_shows_prefixes_scopes_and_state_but_never_keys(runner):
    key = _key(_create(runner, name="crm").output)
    result = runner.invoke(args=["api-clients", "list"])
    assert result.exit_code == 0
    assert key[:12] in result.output and key not in result.output
    assert "crm" in result.output and "last used: never" in result.output and "active" in result.output


def test_list_without_clients_says_how_to_create_one(runner, db):
    result = runner.invoke(args=["api-clients", "list"])
    assert "api-clients create" in result.output


def test_revoke_by_prefix_stops_the_key(runner, client):
    key = _key(_create(runner, scopes="events:read").output)
    result = runner.invoke(args=["api-clients", "revoke", key[:12]])
    assert result.exit_code == 0, result.output
    assert "Revoked" in result.output
    assert client.get("/api/v1/events", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    assert "revoked" in runner.invoke(args=["api-clients", "list"]).output


def test_revoke_is_audited(runner, db):
    from consentmgr.apiclients.models import ApiClient
    from consentmgr.audit.models import AuditEntry

    _create(runner)
    client_id = str(db.session.query(ApiClient).one().id)
    runner.invoke(args=["api-clients", "revoke", client_id])
    entry = db.session.query(AuditEntry).filter_by(action="api-client.revoked").one()
    assert entry.details["client_id"] == client_id
    assert entry.actor_id == "cli:api-clients revoke"


def test_revoking_an_unknown_client_fails(runner, db):
    result = runner.invoke(args=["api-clients", "revoke", "00000000-0000-4000-8000-000000000000"])
    assert result.exit_code == 1
    assert "No API client" in result.output


def test_purge_removes_only_expired_idempotency_records(runner, db):
    import datetime as dt

    from consentmgr.apiclients.models import ApiClient, IdempotencyRecord

    _create(runner)
    client_id = db.session.query(ApiClient).one().id
    old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=25)
    db.session.add_all([
        IdempotencyRecord(client_id=client_id, key_index="old", request_hash="0" * 64,
                          status_code=201, created_at=old),
        IdempotencyRecord(client_id=client_id, key_index="new", request_hash="0" * 64,
                          status_code=201),
    ])
    db.session.commit()
    result = runner.invoke(args=["api-clients", "purge-idempotency-keys"])
    assert "Removed 1 expired" in result.output
    assert [r.key_index for r in db.session.query(IdempotencyRecord)] == ["new"]
