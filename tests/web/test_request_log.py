"""One JSON line per request, with the route template and never a token or personal data."""

from __future__ import annotations

import json
import logging
import re
import threading
import urllib.error
import urllib.request
import uuid
from typing import Any, Iterator

import pytest
from flask import g
from werkzeug.serving import make_server

from consentmgr.apiclients.services import SCOPES, create_client
from consentmgr.web.request_log import (
    ACCESS_LOGGER,
    BatchedStandardError,
    WithoutWerkzeugRequestLines,
)
from tests.conftest import TEST_ACTOR
from tests.fixtures.staff import csrf_token, sign_in_as
from tests.web.portal.conftest import csrf_from, mail_link, post_form

ACCESS_FIELDS = {"time", "request_id", "method", "route", "status", "duration_ms"}


class Lines(logging.Handler):
    """Every record any logger writes while installed, formatted as an operator would see it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self) -> str:
        return "\n".join(self.format(record) for record in self.records)

    def access(self) -> list[dict[str, Any]]:
        return [json.loads(r.getMessage()) for r in self.records if r.name == ACCESS_LOGGER]


@pytest.fixture
def logs() -> Iterator[Lines]:
    """Captures the root logger (INFO and up) and the access log, which does not propagate."""
    lines = Lines()
    root, access = logging.getLogger(), logging.getLogger(ACCESS_LOGGER)
    level = root.level
    root.addHandler(lines)
    access.addHandler(lines)
    root.setLevel(logging.INFO)
    try:
        yield lines
    finally:
        root.removeHandler(lines)
        access.removeHandler(lines)
        root.setLevel(level)


@pytest.fixture
def api_key(db) -> str:
    _client, key = create_client("shop", SCOPES, actor=TEST_ACTOR)
    db.session.commit()
    return key


# ------------------------------------------------------------------ the line


def test_each_request_writes_one_line_with_the_route_template(client, logs):
    response = client.get("/portal/sign-in/AbCdEf-secret-token?email=someone@example.org")

    [line] = logs.access()
    assert set(line) == ACCESS_FIELDS
    assert line["route"] == "/portal/sign-in/<token>"
    assert line["method"] == "GET"
    assert line["status"] == response.status_code
    assert line["request_id"] == response.headers["X-Request-ID"]
    assert line["duration_ms"] >= 0
    assert "secret-token" not in logs.text() and "someone@" not in logs.text()


def test_an_api_lookup_by_email_logs_neither_the_address_nor_the_key(client, logs, api_key):
    email = f"lookup-{uuid.uuid4().hex[:8]}@example.org"
    response = client.get(f"/api/v1/customers?email={email}",
                          headers={"Authorization": f"Bearer {api_key}"})

    assert response.status_code in (200, 404)
    [line] = logs.access()
    assert line["route"] == "/api/v1/customers"
    text = logs.text()
    assert email not in text and email.split("@")[0] not in text and api_key not in text


def test_a_request_that_matches_no_route_logs_unmatched(client, logs):
    client.get("/nothing/here/person@example.org")
    client.delete("/")

    assert [line["route"] for line in logs.access()] == ["<unmatched>", "<unmatched>"]
    assert "person@example.org" not in logs.text()


def test_health_checks_are_not_logged(client, logs):
    client.get("/healthz")
    client.get("/readyz")

    assert logs.access() == []


# ------------------------------------------------------------------ request id


def test_a_well_formed_request_id_is_kept_and_returned(client, logs):
    response = client.get("/", headers={"X-Request-ID": "lb-2026.11.28:abc-123"})

    assert response.headers["X-Request-ID"] == "lb-2026.11.28:abc-123"
    assert logs.access()[0]["request_id"] == "lb-2026.11.28:abc-123"


@pytest.mark.parametrize("supplied", ["short", "has spaces in it", "ada@example.org/x",
                                      "x" * 65, "id-with-<script>-in-it"])
def test_a_malformed_request_id_is_replaced(client, logs, supplied):
    response = client.get("/", headers={"X-Request-ID": supplied})

    returned = response.headers["X-Request-ID"]
    assert returned != supplied and re.fullmatch(r"[0-9a-f]{32}", returned)
    assert supplied not in logs.text()


def test_every_response_carries_a_request_id(client):
    ids = {client.get(path).headers["X-Request-ID"]
           for path in ("/", "/static/site.css", "/nope", "/api/v1/ping", "/healthz")}
    assert len(ids) == 5


def test_the_request_id_is_in_g_for_the_audit_trail(app):
    seen: list[str] = []
    with app.test_request_context(headers={"X-Request-ID": "trace-0001"}):
        app.preprocess_request()
        seen.append(g.request_id)
    assert seen == ["trace-0001"]


# ------------------------------------------------------------------ a whole run


def test_a_portal_staff_and_api_run_logs_no_marker_or_token(client, db, logs, capsys,
                                                           create_customer, publish_policy_files,
                                                           create_staff_user, api_key):
    publish_policy_files()
    marker = uuid.uuid4().hex[:8]
    email = f"zed.{marker}@example.org"
    name, phone = f"Zedekiah Marker{marker}", "+44 20 7946 3141"
    customer = create_customer(email=email, name=name, phone=phone)
    new_email, new_name = f"zoe.{marker}@example.org", f"Zoe Other{marker}"
    bearer = {"Authorization": f"Bearer {api_key}"}
    wrong_key = "cmk_" + uuid.uuid4().hex

    # Portal: ask for a link, open it, sign in, look and correct.
    post_form(client, "/portal/sign-in", data={"email": email})
    link = mail_link(db, email)
    token = link.rsplit("/", 1)[1]
    client.get(link + f"?email={email}")
    assert client.post(link, data={"csrf_token": csrf_from(client.get(link).data)}
                       ).status_code == 302
    for page in ("/portal/", "/portal/consents", "/portal/access", "/portal/requests", "/portal/details"):
        client.get(page)
    page = client.get("/portal/details").data
    client.post("/portal/details", data={"csrf_token": csrf_from(page), "name": new_name,
                                         "email": email, "phone": phone})
    client.post("/portal/sign-out", data={"csrf_token": csrf_from(client.get("/portal/").data)})

    # Staff: find the customer by address, open the record, reveal the phone number.
    agent = create_staff_user("agent", password=None)
    sign_in_as(client, agent)
    client.post("/staff/customers", data={"csrf_token": csrf_token(client), "query": email})
    client.get(f"/staff/customers/{customer.id}")
    client.post(f"/staff/customers/{customer.id}/reveal/phone",
                data={"csrf_token": csrf_token(client), "reason_code": "customer-request",
                      "justification": f"Caller {name} asked"})

    # API: create, look up by address (also padded), read; a wrong key; a bad body.
    created = client.post("/api/v1/customers", headers=bearer,
                          json={"email": new_email, "name": new_name, "phone": phone})
    assert created.status_code == 201, created.get_data(as_text=True)
    client.get(f"/api/v1/customers?email={email}", headers=bearer)
    client.get(f"/api/v1/customers?email=%20{new_email.upper()}%20", headers=bearer)
    client.get(f"/api/v1/customers/{created.get_json()['id']}", headers=bearer)
    client.get(f"/api/v1/customers?email={email}", headers={"Authorization": f"Bearer {wrong_key}"})
    client.post("/api/v1/customers", headers=bearer, json={"email": email, "name": "\ud800"})

    captured = logs.text() + "\n" + capsys.readouterr().err
    secrets = [email, email.upper(), new_email, new_email.upper(), name, new_name, phone,
               "7946 3141", marker, token, api_key, wrong_key, agent.email]
    assert [s for s in secrets if s in captured] == []
    lines = logs.access()
    assert len(lines) >= 20 and all(set(line) == ACCESS_FIELDS for line in lines)
    assert "/portal/sign-in/<token>" in {line["route"] for line in lines}


# ------------------------------------------------------------------ the dev server


@pytest.fixture
def dev_server(app, ctx) -> Iterator[str]:
    """The app served by werkzeug's development server (what ``make run`` uses)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def test_the_dev_server_logs_our_line_instead_of_the_raw_path(dev_server, logs):
    werkzeug = logging.getLogger("werkzeug")
    werkzeug.addHandler(logs)  # it may not propagate when werkzeug configured it itself
    try:
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(dev_server + "/portal/sign-in/Tok3n-in-the-path?email=a@b.org")
        urllib.request.urlopen(dev_server + "/")
    finally:
        werkzeug.removeHandler(logs)

    assert "Tok3n" not in logs.text() and "a@b.org" not in logs.text()
    assert [line["route"] for line in logs.access()] == ["/portal/sign-in/<token>", "/"]


def test_the_dev_server_filter_keeps_its_other_messages():
    keep = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, "Running on %s", ("x",), None)
    request_line = logging.LogRecord("werkzeug", logging.INFO, __file__, 1,
                                     '127.0.0.1 - - [28/Nov/2026 09:00:00] "%s" %s %s\n',
                                     ("GET /portal/sign-in/tok HTTP/1.1", "200", "-"), None)
    refused = logging.LogRecord("werkzeug", logging.ERROR, __file__, 1,
                                "127.0.0.1 - - [28/Nov/2026 09:00:00] code %d, message %s\n",
                                (400, "Bad request syntax ('GET /x?email=a@b.org')"), None)
    only = WithoutWerkzeugRequestLines()

    assert only.filter(keep)
    assert not only.filter(request_line)
    assert only.filter(refused) and "a@b.org" not in refused.getMessage()
    assert "127.0.0.1" not in refused.getMessage()


# ------------------------------------------------------------------ the batched writer


def test_the_default_handler_writes_lines_in_batches_in_order(capsys):
    handler = BatchedStandardError()
    handler.FLUSH_SECONDS = 3600  # the background flush stays out of this test
    for number in range(3):
        handler.enqueue(f'{{"n":{number}}}')
    assert capsys.readouterr().err == ""  # queued, not yet written

    handler.flush()

    assert capsys.readouterr().err == '{"n":0}\n{"n":1}\n{"n":2}\n'


def test_a_full_batch_is_written_at_once(capsys):
    handler = BatchedStandardError()
    handler.FLUSH_SECONDS = 3600
    for number in range(handler.BATCH_LINES):
        handler.enqueue(str(number))

    assert capsys.readouterr().err.splitlines() == [str(n) for n in range(handler.BATCH_LINES)]
