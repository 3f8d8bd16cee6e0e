"""API clients: keys, authentication and its cache, revocation, external references."""

from __future__ import annotations

import pytest

from consentmgr.apiclients import services
from consentmgr.errors import ValidationFailed
from tests.conftest import TEST_ACTOR


@pytest.fixture(autouse=True)
def _fresh_cache(app):
    from consentmgr.runtime import runtime

    services.forget_cached_clients(runtime(app))
    yield
    services.forget_cached_clients(runtime(app))


def _create(db, scopes="consent:read"):
    client, key = services.create_client("shop", scopes, actor=TEST_ACTOR)
    db.session.commit()
    return client, key


def test_keys_are_long_random_and_recognisable(db):
    keys = {services.generate_key() for _ in range(50)}
    assert len(keys) == 50
    assert all(k.startswith("cmk_") and len(k) == 47 for k in keys)


def test_only_a_hash_and_a_short_prefix_of_the_key_are_stored(db):
    client, key = _create(db)
    assert client.key_hash == services.hash_key(key) != key
    assert client.key_prefix == key[:12]


def test_creation_is_audited_without_the_key(db):
    from consentmgr.audit.models import AuditEntry

    client, key = _create(db)
    entry = db.session.query(AuditEntry).filter_by(action="api-client.created").one()
    assert entry.details["client_id"] == str(client.id)
    assert key not in str(entry.details)


def test_scopes_are_deduplicated_in_a_fixed_order(db):
    client, _ = _create(db, scopes=["events:read", "consent:read", "events:read"])
    assert client.scopes == ["consent:read", "events:read"]


def test_at_least_one_scope_is_needed(db):
    with pytest.raises(ValidationFailed) as error:
        services.create_client("shop", "", actor=TEST_ACTOR)
    assert set(error.value.errors) == {"scopes"}


def test_authenticate_returns_the_client_and_its_scopes(db):
    client, key = _create(db, scopes="consent:read,events:read")
    found = services.authenticate(key)
    assert (found.id, found.scopes) == (client.id, frozenset({"consent:read", "events:read"}))
    assert found.actor.type == "api-client" and found.actor.id == str(client.id)


@pytest.mark.parametrize("key,reason", [(None, "missing"), ("", "missing"), ("abc", "malformed"),
                                        ("cmk_" + "A" * 43, "unknown")])
def test_authenticate_refuses_bad_keys(db, key, reason):
    with pytest.raises(services.InvalidApiKey) as error:
        services.authenticate(key)
    assert error.value.reason == reason


def test_revocation_in_this_process_takes_effect_at_once(db):
    client, key = _create(db)
    services.authenticate(key)  # now cached
    services.revoke_client(client, actor=TEST_ACTOR)
    db.session.commit()
    with pytest.raises(services.InvalidApiKey) as error:
        services.authenticate(key)
    assert error.value.reason == "revoked"


def _revoke_elsewhere(db, client) -> None:
    """Another process revokes: this one's cache does not know."""
    import sqlalchemy as sa

    from consentmgr.apiclients.models import ApiClient

    db.session.execute(sa.update(ApiClient).where(ApiClient.id == client.id)
                       .values(revoked_at=sa.func.now()))
    db.session.commit()


def test_a_revocation_elsewhere_is_not_seen_while_the_client_is_cached(db):
    client, key = _create(db)
    services.authenticate(key, cache_seconds=60)
    _revoke_elsewhere(db, client)
    assert services.authenticate(key, cache_seconds=60).id == client.id


def test_a_revocation_elsewhere_is_honoured_once_the_cached_client_is_gone(db):
    client, key = _create(db)
    services.authenticate(key, cache_seconds=60)
    _revoke_elsewhere(db, client)
    services.forget_cached_clients()  # what the cache's expiry does
    with pytest.raises(services.InvalidApiKey) as error:
        services.authenticate(key, cache_seconds=60)
    assert error.value.reason == "revoked"


def test_with_the_cache_off_a_revocation_elsewhere_is_honoured_at_once(db):
    client, key = _create(db)
    services.authenticate(key, cache_seconds=0)
    _revoke_elsewhere(db, client)
    with pytest.raises(services.InvalidApiKey):
        services.authenticate(key, cache_seconds=0)


def test_the_cache_time_defaults_to_the_configured_setting(app, db):
    from consentmgr.runtime import runtime

    assert services.configured_cache_seconds(runtime(app)) == services.DEFAULT_CACHE_SECONDS


def test_an_unknown_key_is_not_cached_so_a_key_stored_later_works_at_once(db):
    import uuid

    from consentmgr.apiclients.models import ApiClient

    key = services.generate_key()
    with pytest.raises(services.InvalidApiKey):
        services.authenticate(key, cache_seconds=60)
    # Stored by another process just after.
    db.session.add(ApiClient(id=uuid.uuid4(), name="crm", key_prefix=key[:12],
                             key_hash=services.hash_key(key), scopes=["consent:read"],
                             created_by="test"))
    db.session.commit()
    assert services.authenticate(key, cache_seconds=60).name == "crm"


def test_a_revoked_key_is_not_cached(db):
    import sqlalchemy as sa

    from consentmgr.apiclients.models import ApiClient

    client, key = _create(db)
    _revoke_elsewhere(db, client)
    with pytest.raises(services.InvalidApiKey):
        services.authenticate(key, cache_seconds=60)
    db.session.execute(sa.update(ApiClient).where(ApiClient.id == client.id)
                       .values(revoked_at=None))
    db.session.commit()
    assert services.authenticate(key, cache_seconds=60).id == client.id


def test_a_use_is_due_once_a_minute_per_client_and_process(db):
    first, _ = _create(db)
    second, _ = _create(db)
    caller, other = (services.AuthenticatedClient(id=c.id, name=c.name, key_prefix=c.key_prefix,
                                                  scopes=frozenset()) for c in (first, second))
    assert services.use_is_due(caller) is True
    assert services.use_is_due(caller) is False
    assert services.use_is_due(other) is True
    services.forget_cached_clients()
    assert services.use_is_due(caller) is True


def test_revoking_twice_writes_one_audit_entry(db):
    from consentmgr.audit.models import AuditEntry

    client, _ = _create(db)
    services.revoke_client(client, actor=TEST_ACTOR)
    services.revoke_client(client, actor=TEST_ACTOR)
    assert db.session.query(AuditEntry).filter_by(action="api-client.revoked").count() == 1


def test_get_client_by_id_or_prefix(db):
    client, key = _create(db)
    assert services.get_client(client.id) is client
    assert services.get_client(key[:12]) is client
    with pytest.raises(services.ApiClientNotFound):
        services.get_client("cmk_nothere")


def test_an_external_ref_names_one_customer_per_client(db):
    client, _ = _create(db, scopes="customers:write")
    caller = services.AuthenticatedClient(
        id=client.id, name=client.name, key_prefix=client.key_prefix, scopes=frozenset())
    first, created = services.upsert_customer(
        caller, {"email": "ref@example.org", "name": "Ref"}, external_ref="crm-1")
    again, created_again = services.upsert_customer(
        caller, {"email": "ref@example.org", "name": "Ref Two"}, external_ref="crm-1")
    assert (created, created_again) == (True, False)
    assert again.id == first.id and again.name == "Ref Two"
    assert services.external_ref_of(caller, first) == "crm-1"


def test_an_email_in_use_is_a_conflict_with_the_field_named(db, create_customer):
    client, _ = _create(db, scopes="customers:write")
    existing = create_customer()
    caller = services.AuthenticatedClient(id=client.id, name="shop", key_prefix="x", scopes=frozenset())
    with pytest.raises(services.EmailInUse) as error:
        services.upsert_customer(caller, {"email": existing.email, "name": "Other"}, external_ref=None)
    assert error.value.errors == {"email": ["Another customer already uses this email address."]}
