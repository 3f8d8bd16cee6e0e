"""``/healthz`` (the process answers) and ``/readyz`` (database, migrations, keys)."""

from __future__ import annotations

import base64
import dataclasses
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade

from consentmgr import create_app
from consentmgr.crypto import parse_keyring
from consentmgr.customers import services as customers
from consentmgr.extensions import db
from consentmgr.runtime import runtime
from tests.conftest import TEST_ACTOR, base_config
from tests.fixtures.staff import sign_in_as

ALL_OK = {"database": "ok", "migrations": "ok", "keys_migrations": "ok", "master_keys": "ok"}


@pytest.fixture
def fresh_app(tmp_path):
    """Creator: ``fresh_app(migrated=True, **config)``, an app on its own SQLite file."""
    built: list[Flask] = []

    def build(*, migrated: bool = True, url: str | None = None, **extra: Any) -> Flask:
        application = create_app(base_config(url or f"sqlite:///{tmp_path / 'health.db'}",
                                             str(tmp_path / "instance"), **extra))
        if migrated:
            with application.app_context():
                upgrade()
        built.append(application)
        return application

    yield build
    for application in built:
        with application.app_context():
            db.engine.dispose()


def test_liveness_answers_ok_without_a_cookie(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"


def test_ready_when_database_migrations_and_keys_are_fine(client, create_customer):
    create_customer()  # a wrapped data key for the master key check to unwrap

    response = client.get("/readyz")

    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"status": "ok", "checks": ALL_OK}
    assert "Set-Cookie" not in response.headers


def test_liveness_needs_no_database_but_readiness_does(fresh_app, tmp_path):
    app = fresh_app(migrated=False, url=f"sqlite:///{tmp_path / 'missing' / 'dir' / 'x.db'}")
    client = app.test_client()

    assert client.get("/healthz").status_code == 200
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "checks": {
        "database": "unreachable", "migrations": "skipped", "keys_migrations": "skipped",
        "master_keys": "skipped"}}


def test_not_ready_before_the_first_migration(fresh_app):
    response = fresh_app(migrated=False).test_client().get("/readyz")

    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks["migrations"] == "not migrated" and checks["master_keys"] == "skipped"


def test_not_ready_when_the_database_is_behind_the_code(fresh_app):
    app = fresh_app()
    with app.app_context():
        with db.engine.begin() as connection:
            connection.execute(sa.text("UPDATE alembic_version SET version_num = '0008_feed_cursor'"))

    response = app.test_client().get("/readyz")

    assert response.status_code == 503
    assert response.get_json()["checks"]["migrations"] == "behind"


def test_not_ready_when_the_database_is_ahead_of_the_code(fresh_app):
    app = fresh_app()
    with app.app_context():
        with db.engine.begin() as connection:
            connection.execute(sa.text("UPDATE alembic_version_keys SET version_num = '0099_next'"))

    checks = app.test_client().get("/readyz").get_json()["checks"]

    assert checks["keys_migrations"] == "unknown revision"


def test_not_ready_when_the_master_keys_do_not_unwrap_the_data_keys(fresh_app):
    app = fresh_app()
    with app.app_context():
        customers.create_customer({"email": "keys@example.org", "name": "K"}, actor=TEST_ACTOR)
        db.session.commit()
        db.session.remove()
    state = runtime(app)
    # The same key id with other key material: what a mistyped or swapped key file gives.
    wrong = parse_keyring("test1:" + base64.b64encode(b"w" * 32).decode(), source="test")
    state.settings = dataclasses.replace(state.settings, master_keys=wrong)

    response = app.test_client().get("/readyz")

    assert response.status_code == 503
    body = response.get_json()
    assert body["checks"]["master_keys"] == "failed"
    assert "test1" not in response.get_data(as_text=True)  # a fixed word, never the error


def test_health_checks_are_exempt_from_rate_limits(fresh_app):
    app = fresh_app(migrated=True, RATELIMIT_DEFAULT="2 per minute")
    client = app.test_client()

    assert [client.get("/.well-known/gpc.json").status_code for _ in range(3)][-1] == 429
    assert {client.get("/healthz").status_code for _ in range(5)} == {200}
    assert {client.get("/readyz").status_code for _ in range(5)} == {200}


def test_health_checks_write_no_session_even_for_a_signed_in_browser(client, create_staff_user):
    sign_in_as(client, create_staff_user("agent", password=None))
    for path in ("/healthz", "/readyz"):
        assert "Set-Cookie" not in client.get(path).headers
