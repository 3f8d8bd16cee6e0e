"""The consent check's short path: the plain ``200`` answered below Flask's request machinery.

``GET /api/v1/customers/<id>/consents/<purpose>`` is the call other systems
make thousands of times a second, and once its row comes from the check
cache, Flask's own work around it (request context, routing, the hooks,
flask-smorest's wrappers, the response object) is three quarters of its
cost: ~190 of ~250 µs in process (``benchmarks/README.md``).

This WSGI layer answers that one request itself, with the functions the
Flask path uses: the same key check (:func:`authenticate` and its cache),
scope, rate-limit counter, decision (:func:`check_consent`), document,
security headers, request id and access-log line. It answers only the
plain success. Anything else goes to Flask, untouched, and gets its answer
there, with the one set of error handlers:

- another method, path or any query string; an id that is not a
  canonical lower-case UUID, a purpose that is not a slug;
- a missing, unknown or revoked key, or one without ``consent:read``;
- an unknown customer or purpose;
- a client whose last use is due to be recorded (Flask's ``_finish`` does it);
- a client over its rate limit (Flask counts that request again and answers
  429: only a refused request is counted twice);
- any error (a database outage, say: Flask's 503 and its log line).

The decision is read before the request is counted, so that a request
passed on to Flask is counted only there.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any, Callable, Iterable

from flask import Flask

from consentmgr.apiclients.services import InvalidApiKey, authenticate, use_is_recorded
from consentmgr.consent import services as consent
from consentmgr.errors import NotFound
from consentmgr.runtime import runtime
from consentmgr.web.api.auth import cache_seconds, key_of
from consentmgr.web.api.fast_json import decision_document
from consentmgr.web.api.ratelimit import counted
from consentmgr.web.headers import SECURITY_HEADERS, STRICT_TRANSPORT_SECURITY, sends_hsts
from consentmgr.web.request_log import REQUEST_ID_HEADER, request_id_for, write_line

log = logging.getLogger(__name__)

ENDPOINT = "api.ConsentCheck"
SCOPE = "consent:read"
# Strictly narrower than the route's converters: anything else is Flask's to judge.
_PATH = re.compile(r"/api/v1/customers/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                   r"[0-9a-f]{12})/consents/([a-z0-9]+(?:-[a-z0-9]+)*)")
_MAX_PURPOSE = 64
_CONTENT_TYPE = ("Content-Type", "application/json")
_SECURITY = tuple(SECURITY_HEADERS.items())
_SECURE_SCHEMES = frozenset({"https", "wss"})  # werkzeug's Request.is_secure

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class ConsentCheckPath:
    """WSGI middleware: the plain consent check here, every other request to ``flask_app``."""

    def __init__(self, app: Flask, flask_app: WSGIApp) -> None:
        self.app = app
        self.flask_app = flask_app
        self.answered = 0  # checks answered here (tests and benchmarks read it)
        self._route: str | None = None

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "GET" and not environ.get("QUERY_STRING"):
            found = _PATH.fullmatch(environ.get("PATH_INFO", ""))
            if found is not None and len(found.group(2)) <= _MAX_PURPOSE:
                answer = self._answer(environ, found.group(1), found.group(2))
                if answer is not None:
                    return answer(start_response)
        return self.flask_app(environ, start_response)

    def _answer(self, environ: dict[str, Any], customer_id: str,
                purpose: str) -> Callable[[StartResponse], Iterable[bytes]] | None:
        """The answer, or None to leave the request to Flask."""
        started = time.perf_counter()
        app = self.app
        try:
            with app.app_context():
                state = runtime(app)
                client = authenticate(key_of(environ.get("HTTP_AUTHORIZATION")),
                                      cache_seconds=cache_seconds(app), state=state)
                if not client.has_scope(SCOPE) or not use_is_recorded(client, state):
                    return None
                decision = consent.check_consent(customer_id, purpose)
                if not counted(app, f"client:{client.id}"):
                    return None
                production = state.settings.production
        except (InvalidApiKey, NotFound):  # Flask's 401 or 404, with its problem document
            return None
        except Exception as error:  # noqa: BLE001 - Flask answers it, with its handlers and logs
            log.debug("consent check passed to Flask after %s", type(error).__name__)
            return None
        body = json.dumps(decision_document(decision)).encode()
        request_id = request_id_for(environ.get("HTTP_X_REQUEST_ID"))
        headers = [_CONTENT_TYPE, ("Content-Length", str(len(body))), *_SECURITY,
                   (REQUEST_ID_HEADER, request_id)]
        if sends_hsts(environ.get("wsgi.url_scheme") in _SECURE_SCHEMES, production):
            headers.append(("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY))
        self.answered += 1

        def respond(start_response: StartResponse) -> Iterable[bytes]:
            start_response("200 OK", headers)
            write_line(request_id, "GET", self.route, 200, started)
            return [body]

        return respond

    @property
    def route(self) -> str:
        """The route template Flask logs for this endpoint."""
        if self._route is None:
            self._route = next(rule.rule for rule in self.app.url_map.iter_rules()
                               if rule.endpoint == ENDPOINT)
        return self._route


def init_check_path(app: Flask) -> None:
    """Put the short path in front of Flask (call before a proxy fix wraps ``wsgi_app``)."""
    app.wsgi_app = ConsentCheckPath(app, app.wsgi_app)  # type: ignore[method-assign]
