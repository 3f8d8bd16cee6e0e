"""Portal sessions on the server: sign-out ends them, expiry is the server's, sign out everywhere.

Issue 12, finding 1: a portal cookie captured before sign-out still opened
the portal afterwards, and every replay returned a refreshed cookie.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
import time_machine

from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from consentmgr.customers.services import erase_customer
from consentmgr.sessions.models import SessionKind, WebSession
from consentmgr.tokens import token_digest
from consentmgr.web import sessions as web_sessions
from tests.conftest import TEST_ACTOR
from tests.fixtures.staff import session_cookie
from tests.web.portal.conftest import mail_link, post_form

PORTAL_COOKIE = "consentmgr"


def _signed_out(response) -> bool:
    return response.status_code == 302 and response.location.endswith("/portal/sign-in")


def _live_sessions(db, customer) -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(WebSession).where(
        WebSession.customer_id == customer.id, WebSession.ended_at.is_(None)))


def test_a_cookie_captured_before_sign_out_opens_nothing_after_it(client, signed_in):
    captured = session_cookie(client, SessionKind.PORTAL)

    post_form(client, "/portal/", action="/portal/sign-out")
    client.set_cookie(PORTAL_COOKIE, captured)  # the attacker's copy

    for path in ("/portal/", "/portal/consents", "/portal/details", "/portal/access"):
        assert _signed_out(client.get(path)), path


def test_a_replayed_cookie_is_not_refreshed(client, signed_in):
    captured = session_cookie(client, SessionKind.PORTAL)
    post_form(client, "/portal/", action="/portal/sign-out")
    client.set_cookie(PORTAL_COOKIE, captured)

    response = client.get("/portal/consents")

    assert not any(h.startswith(f"{PORTAL_COOKIE}={captured}")
                   for h in response.headers.getlist("Set-Cookie"))


def test_signing_out_ends_the_row(client, db, signed_in):
    token = session_cookie(client, SessionKind.PORTAL)

    post_form(client, "/portal/", action="/portal/sign-out")

    row = db.session.scalar(sa.select(WebSession).where(
        WebSession.token_hash == token_digest(token)))
    assert row.ended_reason == "signed-out" and row.data is None


def test_signing_in_issues_a_new_id(client, db, customer, sign_in):
    client.get("/portal/sign-in")
    before = session_cookie(client, SessionKind.PORTAL)

    sign_in(customer)

    assert before and session_cookie(client, SessionKind.PORTAL) != before
    client.set_cookie(PORTAL_COOKIE, before)
    assert _signed_out(client.get("/portal/"))


def test_the_absolute_lifetime_ends_even_a_busy_session(app, client, signed_in, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_IDLE_MINUTES", 24 * 60)
    with time_machine.travel(dt.timedelta(hours=11, minutes=59)):
        assert client.get("/portal/consents").status_code == 200
    with time_machine.travel(dt.timedelta(hours=12, minutes=1)):
        response = client.get("/portal/consents")
        page = client.get(response.location).get_data(as_text=True)

    assert _signed_out(response)
    assert "signed in for 12 hours" in page


def test_the_absolute_lifetime_is_configurable(app, client, signed_in, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_SESSION_HOURS", 1)

    with time_machine.travel(dt.timedelta(minutes=61)):
        assert _signed_out(client.get("/portal/consents"))


def _sign_in_another_device(app, db, customer):
    device = app.test_client()
    response = post_form(device, mail_link(db, customer.email))
    assert response.status_code == 302 and device.get("/portal/").status_code == 200
    return device


def test_an_erased_customer_loses_every_session(app, client, db, signed_in):
    phone = _sign_in_another_device(app, db, signed_in)
    assert _live_sessions(db, signed_in) == 2

    erase_customer(signed_in, actor=TEST_ACTOR)
    db.session.commit()

    assert _live_sessions(db, signed_in) == 0
    assert _signed_out(client.get("/portal/")) and _signed_out(phone.get("/portal/"))


def test_sign_out_everywhere_ends_every_device(app, client, db, signed_in):
    phone = _sign_in_another_device(app, db, signed_in)

    response = post_form(client, "/portal/", action="/portal/sign-out-everywhere")

    assert _signed_out(response)
    assert "signed out on every device" in client.get(response.location).get_data(as_text=True)
    assert _signed_out(phone.get("/portal/"))
    assert _live_sessions(db, signed_in) == 0
    [entry] = list(db.session.scalars(sa.select(AuditEntry).where(
        AuditEntry.action == actions.PORTAL_SIGNED_OUT_EVERYWHERE)))
    assert entry.subject_id == signed_in.id and entry.details == {"sessions": 2}


def test_sign_out_everywhere_needs_a_signed_in_customer_and_a_post(client, customer):
    assert client.get("/portal/sign-out-everywhere").status_code == 405
    assert _signed_out(post_form(client, "/portal/sign-in", action="/portal/sign-out-everywhere"))


def test_the_portal_cookie_is_lax_and_httponly(client, customer):
    header = [h for h in client.get("/portal/sign-in").headers.getlist("Set-Cookie")
              if h.startswith(PORTAL_COOKIE + "=")][0]

    assert "HttpOnly" in header and "SameSite=Lax" in header


@pytest.mark.parametrize("path", ["/", "/privacy", "/portal/check-your-email"])
def test_a_visitor_who_keeps_nothing_gets_no_row_and_no_cookie(client, db, customer, path):
    response = client.get(path)

    assert response.headers.getlist("Set-Cookie") == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WebSession)) == 0


def test_a_page_view_within_a_minute_writes_nothing(client, db, signed_in):
    client.get("/portal/")  # settle: the first page may add a CSRF token
    token = session_cookie(client, SessionKind.PORTAL)
    before = db.session.scalar(sa.select(WebSession.last_seen_at).where(
        WebSession.token_hash == token_digest(token)))

    with time_machine.travel(dt.timedelta(seconds=20)):
        client.get("/portal/consents")

    db.session.expire_all()
    assert db.session.scalar(sa.select(WebSession.last_seen_at).where(
        WebSession.token_hash == token_digest(token))) == before


def test_without_the_database_a_request_goes_on_without_its_session(client, signed_in,
                                                                     monkeypatch):
    def unreachable(*args, **kwargs):
        raise sa.exc.OperationalError("SELECT", {}, Exception("connection refused"))

    token = session_cookie(client, SessionKind.PORTAL)
    monkeypatch.setattr(web_sessions, "open_session", unreachable)

    response = client.get("/portal/sign-in")

    assert response.status_code == 200  # not a 500 from opening the session
    assert response.headers.getlist("Set-Cookie") == []  # the cookie is kept, nothing written
    monkeypatch.undo()
    assert session_cookie(client, SessionKind.PORTAL) == token
    assert client.get("/portal/").status_code == 200  # back: still signed in
