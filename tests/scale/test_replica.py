"""Consent checks served by a real PostgreSQL streaming replica (CONSENTMGR_REPLICA_DATABASE_URL).

The app writes to the primary and reads its checks (single and bulk) from
the replica. Pausing the replica's replay makes its staleness visible: the
checks answer what the replica has replayed, and agree with the primary
once it has caught up.
"""

from __future__ import annotations

from typing import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask

from consentmgr import create_app
from consentmgr.apiclients.services import create_client
from consentmgr.consent import services
from consentmgr.consent.checks import check_sources, close_check_sources
from consentmgr.extensions import db as _db
from consentmgr.policies.services import publish_policies
from tests.conftest import SHIPPED_POLICIES_DIR, TEST_ACTOR, base_config
from tests.scale.replication import ReplicaPair

PURPOSE = "marketing-email"


@pytest.fixture(scope="module")
def replica_app(replica_pair: ReplicaPair, tmp_path_factory) -> Iterator[Flask]:
    """The app on the pair's primary, its checks on the replica, the policies published."""
    from flask_migrate import upgrade

    app = create_app(base_config(replica_pair.primary_url, str(tmp_path_factory.mktemp("replica")),
                                 CONSENTMGR_REPLICA_DATABASE_URL=replica_pair.replica_url))
    with app.app_context():
        upgrade()
        publish_policies(SHIPPED_POLICIES_DIR, actor=TEST_ACTOR)
        _db.session.commit()
        _db.session.remove()
    replica_pair.wait_for_replay()
    yield app
    with app.app_context():
        close_check_sources()
        _db.engine.dispose()


@pytest.fixture
def paused_replay(replica_pair: ReplicaPair) -> Iterator[None]:
    """The replica stops replaying until the test ends: it falls behind on purpose."""
    replica_pair.on_replica("SELECT pg_wal_replay_pause()")
    try:
        yield
    finally:
        replica_pair.on_replica("SELECT pg_wal_replay_resume()")


def new_customer_with_consent(app: Flask) -> str:
    from consentmgr.customers.services import create_customer

    with app.app_context():
        customer = create_customer({"email": "replica@example.org", "name": "Rita Replica"},
                                   actor=TEST_ACTOR)
        services.grant_consent(customer, PURPOSE, actor=TEST_ACTOR, channel="api")
        _db.session.commit()
        customer_id = customer.id
        _db.session.remove()
    return customer_id


def check(app: Flask, customer_id, purpose: str = PURPOSE) -> services.ConsentDecision:
    with app.app_context():
        return services.check_consent(customer_id, purpose)


def check_in_bulk(app: Flask, customer_id, purpose: str = PURPOSE) -> services.ConsentDecision:
    with app.app_context():
        return services.check_many([(customer_id, purpose)])[0]


def on_primary(app: Flask, customer_id, purpose: str = PURPOSE) -> services.ConsentDecision:
    """The primary's own answer: inside a unit of work the check reads the session's database."""
    with app.app_context():
        with _db.session.begin():
            _db.session.execute(sa.text("SELECT 1"))
            return services.check_consent(customer_id, purpose)


def test_a_replica_turns_the_cache_off(replica_app):
    with replica_app.app_context():
        sources = check_sources()
    assert sources.replica is not None and sources.cache is None


def test_checks_answer_what_the_replica_has_replayed_and_agree_once_it_caught_up(
        replica_app, replica_pair, paused_replay):
    customer_id = new_customer_with_consent(replica_app)
    replica_pair.on_replica("SELECT pg_wal_replay_resume()")
    replica_pair.wait_for_replay()
    assert check(replica_app, customer_id).allowed
    replica_pair.on_replica("SELECT pg_wal_replay_pause()")

    with replica_app.app_context():
        services.withdraw_consent(services.choice_subject(customer_id), PURPOSE,
                                  actor=TEST_ACTOR, channel="api")
        _db.session.commit()
    assert on_primary(replica_app, customer_id).reason == "withdrawn"
    # The replica has not replayed the withdrawal: this is the staleness it allows.
    assert check(replica_app, customer_id).allowed
    assert check_in_bulk(replica_app, customer_id).allowed

    replica_pair.on_replica("SELECT pg_wal_replay_resume()")
    replica_pair.wait_for_replay()
    assert check(replica_app, customer_id) == on_primary(replica_app, customer_id)
    assert check_in_bulk(replica_app, customer_id) == on_primary(replica_app, customer_id)


def test_the_api_writes_to_the_primary_and_checks_on_the_replica(replica_app, replica_pair):
    with replica_app.app_context():
        _, key = create_client("replica-test", ["customers:write", "consent:read", "consent:write"],
                               actor=TEST_ACTOR)
        _db.session.commit()
        _db.session.remove()
    client, headers = replica_app.test_client(), {"Authorization": f"Bearer {key}"}
    made = client.post("/api/v1/customers", headers=headers,
                       json={"email": "api-replica@example.org", "name": "Ann Api"})
    assert made.status_code == 201, made.get_data(as_text=True)
    customer_id = made.get_json()["id"]
    granted = client.post(f"/api/v1/customers/{customer_id}/consents", headers=headers,
                          json={"purpose": PURPOSE, "action": "granted", "channel": "api"})
    assert granted.status_code == 201, granted.get_data(as_text=True)
    replica_pair.wait_for_replay()
    single = client.get(f"/api/v1/customers/{customer_id}/consents/{PURPOSE}", headers=headers)
    assert single.get_json()["allowed"] is True, single.get_data(as_text=True)
    bulk = client.post("/api/v1/consent-checks", headers=headers,
                       json={"checks": [{"customer_id": customer_id, "purpose": PURPOSE}]})
    assert bulk.get_json()["results"][0]["allowed"] is True
