"""Staff sessions on the server: sign-out ends them, expiry is the server's, cookies are strict.

Issue 12, finding 1: a cookie captured before sign-out still opened the
staff screens (a reveal worked with it) and never expired.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
import sqlalchemy as sa
import time_machine

from consentmgr import create_app
from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from consentmgr.extensions import db as _db
from consentmgr.sessions.models import SessionKind, WebSession
from consentmgr.tokens import token_digest
from tests.conftest import base_config
from tests.fixtures.staff import (  # noqa: F401
    create_staff_user,
    csrf_token,
    session_cookie,
    sign_in_as,
)

STAFF_COOKIE = "consentmgr-staff"
REASON = {"reason_code": "customer-request", "justification": "Caller asked for the number"}
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def _post(client, path: str, **data):
    return client.post(path, data={"csrf_token": csrf_token(client), **data})


def _sign_in_for_real(client, login) -> None:
    """Password, then code, through the pages."""
    _post(client, "/staff/sign-in", email=login.email, password=login.password)
    done = _post(client, "/staff/sign-in/code", code=login.code())
    assert done.status_code == 302 and client.get("/staff/").status_code == 200


def _entries(db, action: str) -> list[AuditEntry]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)
                                   .order_by(AuditEntry.sequence)))


def _signed_out(response) -> bool:
    return response.status_code == 302 and response.location.endswith("/staff/sign-in")


def _row(db, client) -> WebSession:
    db.session.expire_all()
    return db.session.scalar(sa.select(WebSession).where(
        WebSession.token_hash == token_digest(session_cookie(client, SessionKind.STAFF))))


@pytest.fixture
def ada(create_customer):
    return create_customer(phone="+44 20 7946 0958")


# ------------------------------------------------------------ the finding


def test_a_cookie_captured_before_sign_out_opens_nothing_after_it(client, create_staff_user):
    login = create_staff_user("agent")
    _sign_in_for_real(client, login)
    captured = session_cookie(client, SessionKind.STAFF)

    assert _post(client, "/staff/sign-out").status_code == 302
    client.set_cookie(STAFF_COOKIE, captured)  # the attacker's copy

    assert _signed_out(client.get("/staff/customers"))
    assert _signed_out(client.get("/staff/"))


def test_a_reveal_with_a_cookie_captured_before_sign_out_fails(app, client, db, monkeypatch,
                                                                create_staff_user, ada):
    login = create_staff_user("agent")
    _sign_in_for_real(client, login)
    captured = session_cookie(client, SessionKind.STAFF)
    # CSRF off from here: the session alone must refuse the replay.
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)
    client.post("/staff/sign-out")
    client.set_cookie(STAFF_COOKIE, captured)

    response = client.post(f"/staff/customers/{ada.id}/reveal/phone", data=REASON)

    assert _signed_out(response)
    assert "7946 0958" not in response.get_data(as_text=True)
    assert _entries(db, actions.CUSTOMER_REVEAL) == []


def test_a_replayed_cookie_gets_no_fresh_cookie(client, create_staff_user):
    login = create_staff_user("agent")
    _sign_in_for_real(client, login)
    captured = session_cookie(client, SessionKind.STAFF)
    client.post("/staff/sign-out")
    client.set_cookie(STAFF_COOKIE, captured)

    response = client.get("/staff/customers")

    assert not any(c.startswith(f"{STAFF_COOKIE}={captured}")
                   for c in response.headers.getlist("Set-Cookie"))


def test_signing_in_issues_a_new_id(client, create_staff_user):
    login = create_staff_user("agent")
    client.get("/staff/sign-in")
    before = session_cookie(client, SessionKind.STAFF)

    _sign_in_for_real(client, login)

    assert before and session_cookie(client, SessionKind.STAFF) != before
    client.set_cookie(STAFF_COOKIE, before)
    assert _signed_out(client.get("/staff/"))


# ------------------------------------------------------------ expiry, on the server


def test_the_absolute_lifetime_ends_even_a_busy_session(app, client, db, monkeypatch,
                                                         create_staff_user):
    monkeypatch.setitem(app.config, "STAFF_IDLE_MINUTES", 24 * 60)
    login = create_staff_user("agent", password=None)
    sign_in_as(client, login)
    with time_machine.travel(dt.timedelta(hours=7, minutes=59)):
        assert client.get("/staff/customers").status_code == 200
    with time_machine.travel(dt.timedelta(hours=8, minutes=1)):
        response = client.get("/staff/customers")
        page = client.get(response.location).get_data(as_text=True)

    assert _signed_out(response) and "signed out after 8 hours" in page
    [entry] = _entries(db, actions.STAFF_SIGN_OUT)
    assert entry.actor_id == login.id and entry.details == {"reason": "lifetime"}


def test_the_absolute_lifetime_is_configurable(app, client, monkeypatch, create_staff_user):
    monkeypatch.setitem(app.config, "STAFF_SESSION_HOURS", 1)
    sign_in_as(client, create_staff_user("agent", password=None))

    with time_machine.travel(dt.timedelta(minutes=61)):
        assert _signed_out(client.get("/staff/customers"))


def test_idle_expiry_is_judged_from_the_server_not_the_cookie(client, db, create_staff_user):
    login = create_staff_user("agent", password=None)
    sign_in_as(client, login)
    token = session_cookie(client, SessionKind.STAFF)

    with time_machine.travel(dt.timedelta(minutes=16)):
        # The cookie is the same opaque id; only the row knows the time.
        assert _signed_out(client.get("/staff/customers"))
    assert db.session.scalar(sa.select(WebSession.ended_reason).where(
        WebSession.token_hash == token_digest(token))) == "idle"


def test_activity_is_written_at_most_once_a_minute(client, db, create_staff_user):
    sign_in_as(client, create_staff_user("agent", password=None))
    client.get("/staff/")  # the first page adds a CSRF token: a change, so a write
    first = _row(db, client).last_seen_at

    with time_machine.travel(dt.timedelta(seconds=30)):
        client.get("/staff/")
    assert _row(db, client).last_seen_at == first
    with time_machine.travel(dt.timedelta(seconds=90)):
        client.get("/staff/")
    assert _row(db, client).last_seen_at > first


# ------------------------------------------------------------ the table


def test_the_table_holds_no_session_id_and_no_readable_data(client, db, create_staff_user):
    login = create_staff_user("agent")
    _sign_in_for_real(client, login)
    token = session_cookie(client, SessionKind.STAFF)
    page = client.get("/staff/sessions").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)

    with db.engine.connect() as conn:
        rows = conn.execute(sa.select(WebSession.__table__)).all()
    text = " ".join(str(v) for row in rows for v in row if not isinstance(v, bytes))
    blob = b"".join(v for row in rows for v in row if isinstance(v, bytes))
    assert token not in text and token.encode() not in blob
    assert login.id.replace("-", "") not in blob.hex() and login.id.encode() not in blob
    assert b"staff_id" not in blob and b"csrf" not in blob and csrf.encode() not in blob
    assert token_digest(token) in text


# ------------------------------------------------------------ cookies


def _set_cookie(response, name: str) -> str:
    [header] = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(name + "=")]
    return header


def test_development_cookies_are_httponly_with_their_same_site_rule(client):
    staff = _set_cookie(client.get("/staff/sign-in"), "consentmgr-staff")
    portal = _set_cookie(client.get("/portal/sign-in"), "consentmgr")

    assert "HttpOnly" in staff and "SameSite=Strict" in staff and "Path=/" in staff
    assert "HttpOnly" in portal and "SameSite=Lax" in portal and "Path=/" in portal
    assert "Secure" not in staff and "Secure" not in portal  # plain http on a laptop
    assert "Expires" not in staff and "Max-Age" not in staff  # gone when the browser closes


@pytest.fixture
def production_client(app, database_url, tmp_path, client):
    """A client of a production-mode app on the test database (``client`` empties it after)."""
    production = create_app(base_config(database_url, str(tmp_path), CONSENTMGR_ENV="production"))
    production.test_client_class = type(client)
    yield production.test_client()
    with production.app_context():
        _db.engine.dispose()


def test_production_cookies_are_secure_and_host_prefixed(production_client):
    staff = _set_cookie(production_client.get("/staff/sign-in"), "__Host-consentmgr-staff")
    portal = _set_cookie(production_client.get("/portal/sign-in"), "__Host-consentmgr")

    for header in (staff, portal):
        assert "Secure" in header and "HttpOnly" in header and "Path=/" in header
        assert "Domain" not in header
    assert "SameSite=Strict" in staff and "SameSite=Lax" in portal


def test_a_page_that_keeps_nothing_sets_no_cookie_and_writes_no_row(client, db):
    for path in ("/", "/privacy", "/staff/set-password/" + "x" * 43):
        assert client.get(path).headers.getlist("Set-Cookie") == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WebSession)) == 0


@pytest.mark.parametrize("path", ["/api/v1/customers", "/api/v1/policies/current",
                                  "/api/v1/nothing-here"])
def test_the_api_never_sets_a_cookie(client, path, create_staff_user):
    sign_in_as(client, create_staff_user("agent", password=None))
    client.get("/portal/sign-in")  # the browser holds both cookies

    for method in ("GET", "POST"):
        response = client.open(path, method=method, json={})
        assert response.headers.getlist("Set-Cookie") == [], (method, response.status_code)
        assert "Cookie" not in response.headers.get("Vary", "")


# ------------------------------------------------------------ the sessions page


def test_staff_see_their_own_sessions_with_this_one_marked(app, client, create_staff_user):
    login = create_staff_user("agent", password=None)
    sign_in_as(client, login)
    sign_in_as(app.test_client(), login)  # the same person, another browser

    page = client.get("/staff/sessions").get_data(as_text=True)

    assert page.count("End session") + page.count("End this session") == 2
    assert "(this one)" in page and page.count("(this one)") == 1
    assert "Everyone" not in page


def test_the_browser_label_is_recorded_at_sign_in(client, db, create_staff_user):
    login = create_staff_user("agent")
    client.environ_base["HTTP_USER_AGENT"] = FIREFOX

    _sign_in_for_real(client, login)

    assert _row(db, client).user_agent == "Firefox on Linux"
    assert "Firefox on Linux" in client.get("/staff/sessions").get_data(as_text=True)


def test_ending_ones_other_session_signs_that_browser_out(app, client, db, create_staff_user):
    login = create_staff_user("agent", password=None)
    sign_in_as(client, login)
    laptop = app.test_client()
    sign_in_as(laptop, login)
    laptop_id = _row(db, laptop).id

    response = _post(client, f"/staff/sessions/{laptop_id}/end")

    assert response.status_code == 302 and response.location.endswith("/staff/sessions")
    assert _signed_out(laptop.get("/staff/"))
    assert client.get("/staff/").status_code == 200
    [entry] = _entries(db, actions.STAFF_SESSION_ENDED)
    assert entry.details == {"session_id": str(laptop_id), "staff_id": login.id, "own": True}


def test_ending_this_session_signs_out(client, db, create_staff_user):
    sign_in_as(client, create_staff_user("agent", password=None))

    response = _post(client, f"/staff/sessions/{_row(db, client).id}/end")

    assert _signed_out(response) and _signed_out(client.get("/staff/"))


def test_an_administrator_sees_and_ends_anyones_session(app, client, db, create_staff_user):
    admin = create_staff_user("admin", password=None, name="Ann Admin")
    agent = create_staff_user("agent", password=None, name="Otto Agent")
    sign_in_as(client, admin)
    theirs = app.test_client()
    sign_in_as(theirs, agent)
    their_id = _row(db, theirs).id

    page = client.get("/staff/sessions").get_data(as_text=True)
    assert "Otto Agent" in page and str(their_id) in page

    assert _post(client, f"/staff/sessions/{their_id}/end").status_code == 302
    assert _signed_out(theirs.get("/staff/"))
    [entry] = _entries(db, actions.STAFF_SESSION_ENDED)
    assert (entry.actor_id, entry.details["staff_id"], entry.details["own"]) == (
        admin.id, agent.id, False)
    assert "Otto" not in str(entry.as_record()) and "Firefox" not in str(entry.as_record())


def test_an_agent_cannot_end_a_colleagues_session(app, client, db, create_staff_user):
    sign_in_as(client, create_staff_user("agent", password=None))
    colleague = app.test_client()
    sign_in_as(colleague, create_staff_user("agent", password=None))

    response = _post(client, f"/staff/sessions/{_row(db, colleague).id}/end")

    assert response.status_code == 404
    assert colleague.get("/staff/").status_code == 200
    assert _entries(db, actions.STAFF_SESSION_ENDED) == []


def test_ending_a_session_needs_the_csrf_token(client, db, create_staff_user):
    sign_in_as(client, create_staff_user("agent", password=None))

    response = client.post(f"/staff/sessions/{_row(db, client).id}/end")

    assert response.status_code == 400 and client.get("/staff/").status_code == 200


@pytest.mark.parametrize("session_id", ["not-a-session", str(uuid.uuid4())])
def test_ending_an_unknown_session_is_a_404(client, create_staff_user, session_id):
    sign_in_as(client, create_staff_user("admin", password=None))

    assert _post(client, f"/staff/sessions/{session_id}/end").status_code == 404


def test_a_deactivated_colleagues_sessions_end_at_once(app, client, db, create_staff_user):
    admin = create_staff_user("admin", password=None)
    agent = create_staff_user("agent", password=None)
    sign_in_as(client, admin)
    theirs = app.test_client()
    sign_in_as(theirs, agent)

    assert _post(client, f"/staff/admin/staff/{agent.id}/deactivate").status_code == 302

    assert _row(db, theirs).ended_reason == "deactivated"
    assert _signed_out(theirs.get("/staff/"))
