"""PostgreSQL goes away and comes back: 503s with Retry-After, nothing half-written, self-healing.

The app under test reaches the real PostgreSQL through a TCP proxy on
loopback that the test can cut (existing connections closed, new ones
refused) and restore, as a database restart or a network failure would.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import sqlite3
import threading
import uuid
from typing import Any, Iterator

import psycopg
import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade

from consentmgr import create_app
from consentmgr.apiclients.services import SCOPES, create_client
from consentmgr.extensions import db
from consentmgr.policies.services import publish_policies
from consentmgr.web.outage import is_database_outage
from tests.conftest import SHIPPED_POLICIES_DIR, TEST_ACTOR, base_config, postgresql_only

PROBLEM_JSON = "application/problem+json"
RETRY_AFTER = "7"


class CuttableProxy:
    """A TCP forwarder 127.0.0.1:<port> -> ``upstream`` that can be cut and restored."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = 0
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        """Listen again (on the same port) and forward new connections."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        """Refuse new connections and close every open one, as a dead database would."""
        listener, self._listener = self._listener, None
        if listener is not None:
            _close(listener)
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _close(sock)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._sockets += [client, server]
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            _close(source)
            _close(target)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in accept() or recv()
    except OSError:
        pass
    sock.close()


@pytest.fixture
def proxy(database_url) -> Iterator[CuttableProxy]:
    url = sa.engine.make_url(database_url)
    forwarder = CuttableProxy((url.host or "127.0.0.1", url.port or 5432))
    yield forwarder
    forwarder.cut()


@pytest.fixture
def proxied_app(app, ctx, proxy, database_url, tmp_path) -> Iterator[Flask]:
    """An app whose database connections go through ``proxy``, migrated to head.

    It shares the test database (and so its emptying after the test) with ``app``.
    """
    url = sa.engine.make_url(database_url).set(host="127.0.0.1", port=proxy.port)
    application = create_app(base_config(
        url.render_as_string(hide_password=False), str(tmp_path / "instance"),
        CONSENTMGR_UNAVAILABLE_RETRY_AFTER=RETRY_AFTER,
        CONSENTMGR_API_KEY_CACHE_SECONDS="0",  # every call asks the database for its key
        PROPAGATE_EXCEPTIONS=False))  # as in production: errors outside views get the handlers
    with application.app_context():
        upgrade()
        publish_policies(SHIPPED_POLICIES_DIR, actor=TEST_ACTOR)
        db.session.commit()
        db.session.remove()
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def bearer(proxied_app) -> dict[str, str]:
    with proxied_app.app_context():
        _client, key = create_client("shop", SCOPES, actor=TEST_ACTOR)
        db.session.commit()
        db.session.remove()
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def direct(app) -> Any:
    """Counts rows over a direct connection (not through the proxy)."""
    def count(table: str) -> int:
        with app.app_context():
            with db.engine.connect() as connection:
                return connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
    return count


@pytest.fixture
def logs(caplog) -> Any:
    caplog.set_level(logging.INFO)
    return caplog


def new_customer() -> dict[str, Any]:
    return {"email": f"outage-{uuid.uuid4().hex[:10]}@example.org", "name": "Ada Outage",
            "phone": "+44 20 7946 0958"}


def grant(purpose: str = "marketing-email") -> dict[str, Any]:
    return {"purpose": purpose, "action": "granted", "channel": "api", "policy_version": "2026-03",
            "collected_at": dt.datetime.now(dt.timezone.utc).isoformat()}


def assert_unavailable_problem(response: Any) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)[:300]
    assert response.mimetype == PROBLEM_JSON
    assert response.get_json()["type"].endswith("#problem-unavailable")
    assert response.headers["Retry-After"] == RETRY_AFTER


def assert_unavailable_page(response: Any) -> None:
    assert response.status_code == 503
    assert response.mimetype == "text/html"
    assert "nothing you sent was saved" in response.get_data(as_text=True)
    assert response.headers["Retry-After"] == RETRY_AFTER


@postgresql_only
def test_an_outage_answers_503_and_the_app_recovers_by_itself(proxied_app, proxy, bearer, direct,
                                                              logs):
    client = proxied_app.test_client()
    customer = client.post("/api/v1/customers", json=new_customer(), headers=bearer)
    assert customer.status_code == 201, customer.get_data(as_text=True)
    customer_id = customer.get_json()["id"]
    check = f"/api/v1/customers/{customer_id}/consents/marketing-email"
    assert client.post(f"/api/v1/customers/{customer_id}/consents", json=grant(),
                       headers=bearer).status_code == 201
    assert client.get(check, headers=bearer).get_json()["allowed"] is True
    assert client.get("/portal/sign-in").status_code == 200
    customers_before, audit_before = direct("customers"), direct("audit_entries")

    proxy.cut()
    assert_unavailable_problem(client.post("/api/v1/customers", json=new_customer(),
                                           headers=bearer))
    assert_unavailable_problem(client.get(check, headers=bearer))
    assert_unavailable_problem(client.post("/api/v1/consent-checks", headers=bearer, json={
        "checks": [{"customer_id": customer_id, "purpose": "marketing-email"}]}))
    assert_unavailable_page(client.get("/portal/sign-in"))
    assert_unavailable_page(client.get("/privacy"))
    assert client.get("/healthz").status_code == 200  # the process is alive
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["checks"]["database"] == "unreachable"

    proxy.restore()
    again = client.post("/api/v1/customers", json=new_customer(), headers=bearer)
    assert again.status_code == 201, again.get_data(as_text=True)
    assert client.get(check, headers=bearer).get_json()["allowed"] is True
    assert client.get("/portal/sign-in").status_code == 200
    assert client.get("/readyz").status_code == 200
    # Only the customer created after the restore was written.
    assert (direct("customers"), direct("audit_entries")) == (customers_before + 1,
                                                              audit_before + 1)


@postgresql_only
def test_a_cut_in_the_middle_of_a_write_leaves_nothing_half_written(proxied_app, proxy, bearer,
                                                                    direct, logs):
    client = proxied_app.test_client()
    assert client.get("/readyz").status_code == 200
    customers_before, audit_before = direct("customers"), direct("audit_entries")
    keys_before = direct("data_keys")
    inserts: list[str] = []

    def cut_after_the_first_insert(conn, cursor, statement, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT") and not inserts:
            inserts.append(statement.split("(")[0])
            proxy.cut()  # the transaction has written a row; its connection now dies

    with proxied_app.app_context():
        engine = db.engine
    sa.event.listen(engine, "after_cursor_execute", cut_after_the_first_insert)
    try:
        assert_unavailable_problem(client.post("/api/v1/customers", json=new_customer(),
                                               headers=bearer))
    finally:
        sa.event.remove(engine, "after_cursor_execute", cut_after_the_first_insert)
    assert inserts, "the request never wrote"

    proxy.restore()
    assert (direct("customers"), direct("audit_entries"), direct("data_keys")) == (
        customers_before, audit_before, keys_before)
    assert client.post("/api/v1/customers", json=new_customer(), headers=bearer).status_code == 201


@postgresql_only
def test_a_page_form_posted_during_an_outage_gets_the_503_page(proxied_app, proxy):
    client = proxied_app.test_client()
    page = client.get("/portal/sign-in").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]

    proxy.cut()
    response = client.post("/portal/sign-in", data={"csrf_token": token,
                                                    "email": "someone@example.org"})

    assert_unavailable_page(response)
    assert "someone@example.org" not in response.get_data(as_text=True)


@postgresql_only
def test_an_outage_is_logged_in_one_short_line_without_traceback(proxied_app, proxy, bearer, logs):
    client = proxied_app.test_client()
    proxy.cut()
    client.post("/api/v1/customers", json=new_customer(), headers=bearer)
    client.get("/portal/sign-in")

    ours = [r for r in logs.records if r.name.startswith("consentmgr")
            and r.name != "consentmgr.access"]
    assert [r.getMessage() for r in ours] == [
        "database unavailable (OperationalError) during POST /api/v1/customers",
        "database unavailable (OperationalError) during GET /portal/sign-in",
    ]
    assert not [r for r in logs.records if r.exc_info or r.exc_text]
    assert "outage-" not in logs.text and "Ada Outage" not in logs.text


def test_only_connection_failures_count_as_an_outage():
    assert is_database_outage(psycopg.OperationalError("connection refused"))
    assert is_database_outage(sa.exc.OperationalError("SELECT 1", {}, psycopg.OperationalError()))
    assert is_database_outage(sa.exc.OperationalError("x", {}, sqlite3.OperationalError(
        "database is locked")))
    assert not is_database_outage(sa.exc.OperationalError("x", {}, sqlite3.OperationalError(
        "near \"SELEC\": syntax error")))
    assert not is_database_outage(sa.exc.IntegrityError("x", {}, Exception()))
    assert not is_database_outage(ValueError("nope"))
