"""Session-wide browser-test fixtures: one live server, one Chromium.

* ``live_server_config`` — the app's configuration. **Extend it here** when a
  browser test needs more (e.g. point ``CONSENTMGR_SMTP_HOST``/``_PORT`` at an
  aiosmtpd fixture to read magic-link mail): request your fixture from it
  and add keys.
* ``smtp_inbox`` — a real SMTP server (aiosmtpd) on a free loopback port;
  the live app mails to it. ``smtp_inbox.to(address)``.
* ``live_server`` — the app on ``http://127.0.0.1:<free port>``, with its
  worker on a thread beside it (it sends the mail), on its own SQLite database, migrated, with the shipped privacy policy published and
  demo customers loaded (see :func:`seed_live_database`, the place to add
  staff users and the like). Exposes ``.url``, ``.app`` and
  ``.url_for(path)``. Tests share it, so they must not depend on each
  other's changes: create what you need with unique values.
* ``browser`` — one headless Chromium for the session.
* ``page`` — a fresh browser context and page per test (no shared cookies).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Iterator

import pytest
from flask import Flask
from werkzeug.serving import make_server

from consentmgr import create_app
from tests.conftest import base_config
from tests.e2e import CHROMIUM, CHROMIUM_ARGS
from tests.fixtures.smtp import Inbox, running_smtp, running_worker

DEMO_CUSTOMERS = 5


@dataclass(frozen=True)
class LiveServer:
    """The running app: its base URL and the Flask app (for app contexts in tests)."""

    url: str
    app: Flask

    def url_for(self, path: str) -> str:
        """The absolute URL of ``path`` (``"/privacy"``) on this server."""
        return self.url + path


@pytest.fixture(scope="session")
def live_server_config(tmp_path_factory, smtp_inbox) -> dict[str, Any]:
    """The live app's configuration: a fresh SQLite database and instance folder."""
    directory = tmp_path_factory.mktemp("live-server")
    return base_config(
        f"sqlite:///{directory / 'consentmgr.db'}",
        str(directory / "instance"),
        CONSENTMGR_BASE_URL="http://127.0.0.1",  # replaced by the real port below
        # Mail (portal sign-in links) goes to a real SMTP server on loopback.
        CONSENTMGR_SMTP_HOST="127.0.0.1",
        CONSENTMGR_SMTP_PORT=str(smtp_inbox.port),
        # Every browser test signs in from 127.0.0.1: one client address for
        # the whole session. The limits themselves are tested in tests/portal.
        PORTAL_SIGN_IN_LIMIT_PER_CLIENT="1000 per hour",
    )


@pytest.fixture(scope="session")
def smtp_inbox() -> Iterator[Inbox]:
    """A real SMTP server (aiosmtpd) on a free loopback port, for the whole session."""
    with running_smtp() as (_controller, inbox):
        yield inbox


def seed_live_database(app: Flask) -> None:
    """Bring the database to what ``make run`` gives a newcomer.

    Through the same commands ``make db`` runs, so the browser sees what an
    operator would. Add further seed steps (staff users, API clients) here.
    """
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()
    runner = app.test_cli_runner()
    # --no-history: the portal tests start the demo customers from no consent choice at all
    # (tests/e2e/test_dashboard.py gives a year of history to further demo customers).
    for args in (["policies", "publish"],
                 ["demo", "load", "--count", str(DEMO_CUSTOMERS), "--no-history"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, f"flask {' '.join(args)} failed:\n{result.output}"


@pytest.fixture(scope="session")
def live_server(live_server_config) -> Iterator[LiveServer]:
    """The app served by werkzeug on a free loopback port, and its worker, in background threads."""
    server = make_server("127.0.0.1", 0, None, threaded=True)  # app bound below
    url = f"http://127.0.0.1:{server.server_port}"
    app = create_app({**live_server_config, "CONSENTMGR_BASE_URL": url})
    seed_live_database(app)
    server.app = app
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        with running_worker(app):  # as make run: the worker sends what requests queued
            yield LiveServer(url=url, app=app)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        with app.app_context():
            from consentmgr.extensions import db

            db.engine.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium (Debian's) for the whole session."""
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()
    finally:
        playwright.stop()


@pytest.fixture
def page(browser) -> Iterator[Any]:
    """A page in a fresh browser context, closed after the test."""
    context = browser.new_context()
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()
