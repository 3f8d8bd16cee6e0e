"""Fixtures for webhooks: a real HTTP receiver on 127.0.0.1, a registered webhook, one worker pass."""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from consentmgr.apiclients.services import create_client
from consentmgr.extensions import db as _db
from consentmgr.sql import utcnow
from consentmgr.webhooks.delivery import DeliverySettings, Outcome
from consentmgr.webhooks.dispatcher import WebhookRun
from consentmgr.webhooks.services import register_webhook
from tests.conftest import TEST_ACTOR
from tests.fixtures.audit import sequence_audit


@dataclass
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A local HTTP server that records each POST and answers with the next scripted status."""

    server: ThreadingHTTPServer
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answered in turn; then 200
    extra_headers: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/consent?src=test"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real receiver on 127.0.0.1 for this test."""
    holder: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            target = holder[0]
            target.received.append(Received(self.path, {k.lower(): v for k, v in
                                                        self.headers.items()}, body))
            status = target.statuses.pop(0) if target.statuses else 200
            self.send_response(status)
            for name, value in target.extra_headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder.append(Receiver(server))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def register(db):
    """Creator: ``register(url, event_types, scopes=...)`` → (subscription id, secret), committed."""

    def make(url: str, event_types: list[str], *,
             scopes: tuple[str, ...] = ("webhooks:write", "events:read")) -> tuple[Any, str]:
        client, _ = create_client("crm", list(scopes), actor=TEST_ACTOR)
        issued = register_webhook(db.session, client.id, url, event_types, scopes=scopes,
                                  actor=TEST_ACTOR, allow_private=True)
        db.session.commit()
        return issued.subscription.id, issued.secret

    return make


@pytest.fixture
def run_webhooks(app, db) -> Callable[..., list[Outcome]]:
    """``run_webhooks(now=None, allow_private=True)``: one worker pass (fan out, deliver due).

    Commits and sequences the test's work first; runs in an app context of
    its own (its own session), as the worker does. ``now`` moves its clock.
    """

    def run(now: dt.datetime | None = None, *, allow_private: bool = True) -> list[Outcome]:
        sequence_audit(db)
        with app.app_context():
            try:
                work = WebhookRun(_db.session, DeliverySettings(allow_private=allow_private,
                                                                timeout=5.0),
                                  clock=(lambda: now) if now is not None else utcnow,
                                  rng=random.Random(7))
                work.fan_out()
                return work.deliver_due()
            finally:
                _db.session.remove()

    return run
