"""Shared fixtures: the app on SQLite and (when configured) PostgreSQL.

Every test that uses ``app`` runs once per database: SQLite always, and
PostgreSQL when ``CONSENTMGR_TEST_DATABASE_URL`` is set (``.ci/run`` sets it).
The app and its migrated database are built once per session and database;
tables are emptied after each test.
"""

from __future__ import annotations

import base64
import contextvars
import os
import uuid
from typing import Any, Iterator

import pytest
import sqlalchemy as sa
from flask import has_app_context
from flask.testing import FlaskClient

from consentmgr import create_app
from consentmgr.actors import Actor
from consentmgr.extensions import db as _db
from consentmgr.web.request_log import BatchedStandardError, access_log

pytest_plugins = ["tests.fixtures.staff", "tests.fixtures.smtp", "tests.fixtures.audit",
                  "tests.fixtures.databases",
                  "tests.fixtures.signing"]

PG_URL = os.environ.get("CONSENTMGR_TEST_DATABASE_URL")
DATABASES = ["sqlite"] + (["postgresql"] if PG_URL else [])

TEST_MASTER_KEYS = "test1:" + base64.b64encode(b"m" * 32).decode()
TEST_INDEX_KEYS = "idx1:" + base64.b64encode(b"i" * 32).decode()
TEST_AUDIT_SIGNING_KEY = base64.b64encode(b"a" * 32).decode()
TEST_RECEIPT_SIGNING_KEY = base64.b64encode(b"r" * 32).decode()
TEST_ACTOR = Actor("system", "test")


postgresql_only = pytest.mark.postgresql_only


def pytest_collection_modifyitems(config, items):
    """Deselect (not skip) the SQLite runs of tests marked ``postgresql_only``.

    For behaviour that exists only on PostgreSQL, such as the append-only
    trigger or a second connection pool: on SQLite there is nothing to run.
    """
    keep, drop = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if item.get_closest_marker("postgresql_only") and params.get("database_url") != "postgresql":
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def reset_postgres(url: str) -> None:
    """Drop everything in the test database's public schema."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def base_config(database_url: str, instance_path: str, **extra: Any) -> dict[str, Any]:
    """A complete, isolated configuration for a test app."""
    return {
        "CONSENTMGR_DATABASE_URL": database_url,
        "CONSENTMGR_MASTER_KEYS": TEST_MASTER_KEYS,
        "CONSENTMGR_BLIND_INDEX_KEYS": TEST_INDEX_KEYS,
        "CONSENTMGR_SECRET_KEY": "test-secret-" + "x" * 40,
        "CONSENTMGR_AUDIT_SIGNING_KEY": TEST_AUDIT_SIGNING_KEY,
        "CONSENTMGR_RECEIPT_SIGNING_KEY": TEST_RECEIPT_SIGNING_KEY,
        "CONSENTMGR_INSTANCE_PATH": instance_path,
        "TESTING": True,
        **extra,
    }


# No background flush while tests run: it could write between two tests,
# outside any test's captured output; each test flushes its own lines.
BatchedStandardError.FLUSH_SECONDS = 24 * 3600


@pytest.fixture(autouse=True)
def _access_lines_stay_with_their_test() -> Iterator[None]:
    """Write the access log's batched lines at the end of each test, into its captured output."""
    yield
    for handler in access_log.handlers:
        handler.flush()


@pytest.fixture(scope="session", params=DATABASES)
def database_url(request, tmp_path_factory) -> str:
    """A fresh, empty database URL per backend."""
    if request.param == "postgresql":
        url = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1) if PG_URL.startswith(
            "postgresql://") else PG_URL
        reset_postgres(url)
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'consentmgr.db'}"


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    """The application, with its database migrated to head."""
    from flask_migrate import upgrade

    application = create_app(base_config(database_url, str(tmp_path_factory.mktemp("instance"))))
    with application.app_context():
        upgrade()
    yield application
    with application.app_context():
        _db.engine.dispose()


def _empty_tables(application) -> None:
    from consentmgr.consent.services import forget_catalogues

    forget_catalogues(application)
    with application.app_context():
        _db.session.remove()
        for metadata in _db.metadatas.values():
            bind = _db.session.get_bind(clause=next(iter(metadata.tables.values())))
            with bind.begin() as conn:
                if conn.dialect.name == "postgresql":
                    # TRUNCATE fires no row triggers (the audit trail refuses DELETE).
                    quote = conn.dialect.identifier_preparer.quote
                    names = ", ".join(quote(table.name) for table in metadata.sorted_tables)
                    conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
                    continue
                for table in reversed(metadata.sorted_tables):
                    conn.execute(table.delete())


@pytest.fixture
def ctx(app) -> Iterator[None]:
    """An app context for the test; tables are emptied afterwards."""
    with app.app_context():
        yield
        _db.session.remove()
    _empty_tables(app)
    from consentmgr.extensions import limiter

    limiter.reset()  # rate-limit counters must not leak between tests


@pytest.fixture
def db(ctx):
    """The Flask-SQLAlchemy extension, inside an app context."""
    return _db


class RequestPerContextClient(FlaskClient):
    """A test client whose every request gets its own app context, ``g`` and session.

    As under a real server: nothing a request leaves in ``g`` (a cached CSRF
    token, the signed-in user) reaches the next one. What the test itself
    added through ``db.session`` is committed first, so the request sees it,
    and the test's objects are reloaded when it next reads them.
    """

    def open(self, *args: Any, **kwargs: Any):
        if has_app_context():
            _db.session.commit()
        if self.preserve_context:  # ``with client:`` keeps the request's context on purpose
            return super().open(*args, **kwargs)
        context = contextvars.Context()
        response = context.run(super().open, *args, **kwargs)
        if response.is_streamed:
            # A streamed body runs in the request's context too: read it there.
            context.run(response.make_sequence)
        return response


@pytest.fixture
def client(app, ctx):
    """A test client; each request runs in its own app context (tables emptied after the test)."""
    app.test_client_class = RequestPerContextClient
    return app.test_client()


@pytest.fixture
def runner(app, ctx):
    """A CLI runner for ``flask`` commands."""
    return app.test_cli_runner()


@pytest.fixture
def mails(monkeypatch):
    """The data-subject request mails handed to the mailer: (to, subject, body), in order."""
    from consentmgr.requests import notices

    sent: list[tuple[str, str, str]] = []
    monkeypatch.setattr(notices, "send_mail_after_commit",
                        lambda to, subject, body: sent.append((to, subject, body)))
    return sent


@pytest.fixture
def create_customer(db):
    """Creator: ``create_customer(**overrides)`` commits and returns a customer."""
    from consentmgr.customers import services

    def create(**overrides: Any):
        details = {
            "email": f"person-{uuid.uuid4().hex[:8]}@example.org",
            "name": "Ada Example",
            "phone": "+44 20 7946 0958",
            "postal_address": "1 Example Street\nLondon",
            "date_of_birth": "1985-04-12",
            "preferences": {"channels": ["email"], "language": "en", "topics": ["garden"]},
        }
        details.update(overrides)
        customer = services.create_customer(details, actor=TEST_ACTOR)
        db.session.commit()
        return customer

    return create


SHIPPED_POLICIES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "policies")


@pytest.fixture
def publish_policy_files(db):
    """Creator: ``publish_policy_files(directory=None)`` publishes policy files and commits.

    Without a directory it publishes the shipped ``policies/`` (versions
    2025-01 and 2026-03); returns the :class:`PublishReport`.
    """
    from consentmgr.policies.services import publish_policies

    def publish(directory: str | os.PathLike[str] | None = None):
        report = publish_policies(directory or SHIPPED_POLICIES_DIR, actor=TEST_ACTOR)
        db.session.commit()
        return report

    return publish
