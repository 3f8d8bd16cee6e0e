"""Flask sessions kept on the server: the cookie holds a random id, the row holds the rest.

Two cookies, one per audience, so each can carry its own rules:

* ``/staff/...`` uses the staff cookie, ``SameSite=Strict``: no other site
  can make a signed-in staff member's browser send it, not even by a link.
* Everything else uses the portal cookie, ``SameSite=Lax`` (a customer
  arriving from their mail's sign-in link keeps working). Pages outside
  ``/portal`` and ``/staff`` (the home page, policies, error pages) only
  show flashed messages: they use whichever of the two the browser sent
  (the portal's first).
* ``/api/v1`` (bearer keys), the health probes and static files have no
  session at all: no lookup, and never a cookie.

Both are ``HttpOnly``; in production they are ``Secure`` and carry the
``__Host-`` prefix (Secure, ``Path=/``, no ``Domain``: no sibling host can
set or shadow them). Neither has an expiry date: the browser forgets them
when it closes, and the server ends them sooner (see below).

What the server enforces (:mod:`consentmgr.sessions.store`), never trusting
the cookie: the idle timeout (``PORTAL_IDLE_MINUTES``,
``STAFF_IDLE_MINUTES``), the absolute lifetime (``PORTAL_SESSION_HOURS``,
default 12; ``STAFF_SESSION_HOURS``, default 8), and the end of a session
at sign-out, which makes a copied cookie worthless. Clearing the session
(``session.clear()``, as every sign-in and sign-out does) ends its row; if
data is then set, it goes into a new row under a new id, so a sign-in
always starts a fresh id (no fixation). A visitor whose session stays empty
gets no row and no cookie.

The store is written through its own short transactions, never the
request's: a view's unfinished work is neither committed nor lost by it.
"""

from __future__ import annotations

import logging
import uuid
from contextlib import contextmanager
from typing import Any, Iterator

import sqlalchemy as sa
from flask import Flask, Request, Response
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SecureCookieSession, SessionInterface
from sqlalchemy.orm import Session as DbSession

from consentmgr.extensions import db
from consentmgr.runtime import runtime
from consentmgr.sessions.services import (
    EndReason,
    Ended,
    Opened,
    Policy,
    SessionKind,
    browser_label,
    end_row,
    open_session,
    policy_from,
    save_data,
    start_session,
    touch,
)
from consentmgr.sql import as_uuid, utcnow
from consentmgr.unit_of_work import unit_of_work
from consentmgr.web.health import PROBE_PATHS
from consentmgr.web.outage import met_outage

COOKIE_NAMES = {SessionKind.PORTAL: "consentmgr", SessionKind.STAFF: "consentmgr-staff"}
SECURE_PREFIX = "__Host-"
SAME_SITE = {SessionKind.PORTAL: "Lax", SessionKind.STAFF: "Strict"}
# The data key naming who a session belongs to (set by web/portal/auth.py and
# web/staff/auth.py); the row keeps it as its owner.
SUBJECT_KEYS = {SessionKind.PORTAL: "portal_customer", SessionKind.STAFF: "staff_id"}

# The database cannot be reached: the request goes on without its session.
DATABASE_DOWN = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1/"
_serializer = TaggedJSONSerializer()


def kind_for_path(path: str) -> SessionKind:
    """Which session a request to ``path`` uses: the staff cookie under /staff, else the portal's."""
    if path == "/staff" or path.startswith("/staff/"):
        return SessionKind.STAFF
    return SessionKind.PORTAL


def cookie_name(kind: SessionKind, *, production: bool) -> str:
    """The cookie's name for ``kind``: ``__Host-`` prefixed in production."""
    return (SECURE_PREFIX if production else "") + COOKIE_NAMES[kind]


def session_policy(app: Flask, kind: SessionKind) -> Policy:
    """The idle timeout and absolute lifetime of ``kind``, from ``app.config``."""
    return policy_from(app.config, kind)


class ServerSession(SecureCookieSession):
    """The session dict of one request, and what the interface needs to store it.

    ``ended`` is set when the browser's session ran out as this request
    opened it (idle or past its lifetime): the sign-in hooks say so, and the
    staff one records it. ``unavailable``: the store could not be reached, so
    the session is empty for this request and is not saved.
    """

    def __init__(self, initial: Any = None, *, kind: SessionKind, token: str | None = None,
                 opened: Opened | None = None, ended: Ended | None = None,
                 had_cookie: bool = False, browser: str = "", unavailable: bool = False) -> None:
        super().__init__(initial)
        self.unavailable = unavailable
        self.kind = kind
        self.token = token
        self.opened = opened
        self.ended = ended
        self.had_cookie = had_cookie
        self.browser = browser
        self.renew = False
        self.end_reason: EndReason | None = None

    def clear(self) -> None:
        """Empty the session and retire its id: data set afterwards goes under a new id."""
        super().clear()
        self.renew = True

    def end(self, reason: EndReason) -> None:
        """End this session for ``reason`` (sign-out, idle, ...): the id opens nothing again."""
        self.clear()
        self.end_reason = reason

    @property
    def subject(self) -> uuid.UUID | None:
        """Who the session's data says it belongs to."""
        value = self.get(SUBJECT_KEYS[self.kind])
        return as_uuid(value) if value else None


class ServerSessionInterface(SessionInterface):
    """Flask's session interface, backed by the ``web_sessions`` table."""

    session_class = ServerSession

    def is_null_session(self, obj: object) -> bool:
        return not isinstance(obj, ServerSession)

    def open_session(self, app: Flask, request: Request) -> Any:
        if _sessionless(app, request.path):
            return self.make_null_session(app)
        production = runtime(app).settings.production
        kind = kind_for_path(request.path)
        token = request.cookies.get(cookie_name(kind, production=production))
        browser = browser_label(request.user_agent.string)
        if not token:
            return ServerSession(kind=kind, browser=browser)
        try:
            with _store() as store:
                found = open_session(store, token, kind, now=utcnow(),
                                     policy=session_policy(app, kind))
        except DATABASE_DOWN:
            # The request goes on without its session (a page that needs the
            # database answers "unavailable" itself); the cookie is kept for
            # when the database is back, and nothing is written.
            log.warning("session store unavailable; request continues without its session")
            return ServerSession(kind=kind, unavailable=True)
        if isinstance(found, Opened):
            return ServerSession(_serializer.loads(found.payload.decode("utf-8"))
                                 if found.payload else None,
                                 kind=kind, token=token, opened=found, had_cookie=True,
                                 browser=browser)
        return ServerSession(kind=kind, ended=found, had_cookie=True, browser=browser)

    def save_session(self, app: Flask, session: Any, response: Response) -> None:
        if not isinstance(session, ServerSession) or session.unavailable or met_outage():
            # After an outage, saving would fail again while the 503 goes out.
            return
        production = runtime(app).settings.production
        name = cookie_name(session.kind, production=production)
        now = utcnow()
        opened = session.opened
        if opened is not None and session.subject != _owner(opened):
            session.renew = True  # a session never changes hands under the same id
        data = dict(session)
        with _store() as store:
            if opened is not None and (session.renew or not data):
                reason = session.end_reason or (EndReason.ROTATED if data
                                                else EndReason.SIGNED_OUT)
                end_row(store, opened.id, reason, now=now)
                opened = None
            if not data:
                token = None
            elif opened is None:
                subject = session.subject
                token = start_session(
                    store, session.kind, _dump(data), now=now,
                    policy=session_policy(app, session.kind), user_agent=session.browser,
                    customer_id=subject if session.kind == SessionKind.PORTAL else None,
                    staff_id=subject if session.kind == SessionKind.STAFF else None)
            else:
                token = session.token
                if session.modified:
                    save_data(store, opened, token, _dump(data), now=now)
                elif opened.touch_due:
                    touch(store, opened, now=now)
        if token is not None or session.had_cookie:
            response.vary.add("Cookie")
        if token is None:
            if session.had_cookie:
                response.delete_cookie(name, path="/", secure=production, httponly=True,
                                       samesite=SAME_SITE[session.kind])
            return
        if token != session.token:
            response.set_cookie(name, token, path="/", secure=production, httponly=True,
                                samesite=SAME_SITE[session.kind])


def _sessionless(app: Flask, path: str) -> bool:
    # API clients authenticate with bearer keys; a probe must not depend on the
    # session store (liveness asks nothing of the database); a stylesheet needs no lookup.
    return (path.startswith(API_PREFIX) or path in PROBE_PATHS
            or (bool(app.static_url_path) and path.startswith(app.static_url_path + "/")))


def _owner(opened: Opened) -> uuid.UUID | None:
    return opened.staff_id if opened.kind == SessionKind.STAFF else opened.customer_id


def _dump(data: dict[str, Any]) -> bytes:
    return _serializer.dumps(data).encode("utf-8")


@contextmanager
def _store() -> Iterator[DbSession]:
    """A short unit of work of the session store, on its own connection."""
    with DbSession(db.engine, expire_on_commit=False) as store, unit_of_work(store):
        yield store


def install_server_sessions(app: Flask) -> None:
    """Keep ``app``'s sessions on the server."""
    app.session_interface = ServerSessionInterface()
