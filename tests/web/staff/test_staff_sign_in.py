"""Staff sign-in through the pages: password, then code; failures audited and limited; idle timeout."""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

import pyotp
import pytest
import sqlalchemy as sa

from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from consentmgr.staff import services
from consentmgr.staff.models import StaffUser
from tests.conftest import TEST_ACTOR
from tests.fixtures.staff import (  # noqa: F401
    create_staff_user,
    csrf_token,
    sign_in_as,
)



def _post(client, path: str, **data):
    return client.post(path, data={"csrf_token": csrf_token(client), **data})


def _password_step(client, email: str, password: str):
    return _post(client, "/staff/sign-in", email=email, password=password)


def _entries(db, action: str) -> list[AuditEntry]:
    db.session.expire_all()
    return list(db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.sequence)))


def _error_text(response) -> list[str]:
    return re.findall(r'<li>([^<]+)</li>', response.get_data(as_text=True).split(
        'class="error-summary"', 1)[-1].split("</ul>", 1)[0])


def test_password_then_code_signs_in(client, create_staff_user):
    login = create_staff_user("agent")

    first = _password_step(client, login.email, login.password)
    assert first.status_code == 302 and first.location.endswith("/staff/sign-in/code")
    second = _post(client, "/staff/sign-in/code", code=login.code())

    assert second.status_code == 302 and second.location.endswith("/staff/")
    assert client.get("/staff/").status_code == 200


def test_the_password_alone_does_not_sign_in(client, create_staff_user):
    login = create_staff_user("agent")
    _password_step(client, login.email, login.password)

    for path in ("/staff/", "/staff/customers"):
        response = client.get(path)
        assert response.status_code == 302 and response.location.endswith("/staff/sign-in")
    with client.session_transaction("/staff/") as session:
        assert "staff_id" not in session


def test_the_code_step_must_follow_the_password_within_five_minutes(client, create_staff_user):
    login = create_staff_user("agent")
    sign_in_as(client, staff_pending_id=login.id, staff_pending_at=int(time.time()) - 301)

    response = client.get("/staff/sign-in/code")

    assert response.status_code == 302 and response.location.endswith("/staff/sign-in")


def test_unknown_email_and_wrong_password_get_the_same_answer(client, create_staff_user):
    login = create_staff_user("agent")

    unknown = _password_step(client, "nobody@staff.example", login.password)
    wrong = _password_step(client, login.email, "not the right password")

    assert unknown.status_code == wrong.status_code == 422
    assert _error_text(unknown) == _error_text(wrong) == [str(services.SignInFailed())]


def test_failed_sign_ins_are_audited_as_failures_without_the_typed_email(client, db,
                                                                          create_staff_user):
    login = create_staff_user("agent")
    _password_step(client, "typed.nobody@staff.example", "some password")
    _password_step(client, login.email, "not the right password")

    unknown, wrong = _entries(db, actions.STAFF_SIGN_IN_FAILED)
    assert (unknown.actor_type, unknown.actor_id, unknown.outcome) == (
        "anonymous", "anonymous", actions.FAILURE)
    assert (wrong.actor_type, wrong.actor_id, wrong.outcome) == ("staff", login.id, actions.FAILURE)
    assert unknown.client_hash and unknown.request_id
    text = repr([unknown.as_record(), wrong.as_record()]).lower()
    assert "typed.nobody" not in text and login.email not in text


def test_failed_attempts_from_one_address_are_rate_limited(app, client, monkeypatch,
                                                           create_staff_user):
    monkeypatch.setitem(app.config, "STAFF_SIGN_IN_RATE_LIMIT", "3 per minute")
    login = create_staff_user("agent")
    statuses = [_password_step(client, f"nobody{i}@staff.example", "guess").status_code
                for i in range(3)]

    blocked = _password_step(client, login.email, login.password)

    assert statuses == [422, 422, 422]
    assert blocked.status_code == 429
    assert "Too many attempts" in blocked.get_data(as_text=True)


def test_successful_attempts_do_not_use_up_the_limit(app, client, monkeypatch,
                                                     create_staff_user):
    monkeypatch.setitem(app.config, "STAFF_SIGN_IN_RATE_LIMIT", "2 per minute")
    login = create_staff_user("agent")

    statuses = []
    for _ in range(3):
        statuses.append(_password_step(client, login.email, login.password).status_code)
        client.delete_cookie("session")

    assert statuses == [302, 302, 302]


def test_wrong_codes_for_one_account_are_rate_limited(app, client, monkeypatch,
                                                      create_staff_user):
    monkeypatch.setitem(app.config, "STAFF_ACCOUNT_RATE_LIMIT", "2 per minute")
    login = create_staff_user("agent")
    _password_step(client, login.email, login.password)
    wrong = f"{(int(login.code()) + 500_000) % 1_000_000:06d}"

    statuses = [_post(client, "/staff/sign-in/code", code=wrong).status_code for _ in range(3)]

    assert statuses == [422, 422, 429]


def test_signing_in_clears_what_the_session_held_before(client, create_staff_user):
    login = create_staff_user("agent")
    sign_in_as(client, planted="by someone else")

    _password_step(client, login.email, login.password)
    _post(client, "/staff/sign-in/code", code=login.code())

    with client.session_transaction("/staff/") as session:
        assert "planted" not in session and session["staff_id"] == login.id


def test_the_first_sign_in_sets_up_the_authenticator(client, db, create_staff_user):
    login = create_staff_user("dpo", enrolled=False)

    first = _password_step(client, login.email, login.password)
    assert first.location.endswith("/staff/sign-in/authenticator")
    page = client.get("/staff/sign-in/authenticator").get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    assert "otpauth://totp/" in page
    done = _post(client, "/staff/sign-in/authenticator", code=pyotp.TOTP(secret).now())

    assert done.status_code == 302 and client.get("/staff/").status_code == 200
    db.session.expire_all()
    assert db.session.get(StaffUser, services.get_staff(login.id).id).totp_enrolled


def test_after_sign_in_the_page_asked_for_opens(client, create_staff_user):
    login = create_staff_user("dpo")
    client.get("/staff/audit?action=customer.view")

    _password_step(client, login.email, login.password)
    done = _post(client, "/staff/sign-in/code", code=login.code())

    assert done.location.endswith("/staff/audit?action=customer.view")


def test_a_planted_next_address_outside_the_staff_pages_is_ignored(client, create_staff_user):
    login = create_staff_user("agent")
    sign_in_as(client, staff_next="https://evil.example/")
    _password_step(client, login.email, login.password)

    done = _post(client, "/staff/sign-in/code", code=login.code())

    assert done.location.endswith("/staff/")


def test_an_idle_session_ends_and_the_end_is_audited(client, db, create_staff_user):
    login = create_staff_user("agent", password=None)
    sign_in_as(client, login, seen=time.time() - 16 * 60)

    response = client.get("/staff/customers")

    assert response.status_code == 302 and response.location.endswith("/staff/sign-in")
    [entry] = _entries(db, actions.STAFF_SIGN_OUT)
    assert entry.actor_id == login.id and entry.details == {"reason": "idle"}


def test_a_session_used_within_the_idle_time_continues(client, create_staff_user):
    login = create_staff_user("agent", password=None)
    sign_in_as(client, login, seen=time.time() - 14 * 60)

    assert client.get("/staff/customers").status_code == 200


def test_the_idle_time_is_configurable(app, client, monkeypatch, create_staff_user):
    monkeypatch.setitem(app.config, "STAFF_IDLE_MINUTES", 1)
    login = create_staff_user("agent", password=None)
    sign_in_as(client, login, seen=time.time() - 90)

    assert client.get("/staff/customers").status_code == 302


def test_signing_out_ends_the_session_and_is_audited(client, db, create_staff_user):
    login = create_staff_user("agent", password=None)
    sign_in_as(client, login)

    response = _post(client, "/staff/sign-out")

    assert response.status_code == 302
    assert client.get("/staff/").status_code == 302
    [entry] = _entries(db, actions.STAFF_SIGN_OUT)
    assert entry.details == {"reason": "user"}


def test_signing_out_needs_a_post_not_a_link(client, create_staff_user):
    sign_in_as(client, create_staff_user("agent", password=None))

    assert client.get("/staff/sign-out").status_code == 405
    assert client.get("/staff/").status_code == 200


def test_a_deactivated_colleague_is_signed_out_at_the_next_request(client, db, create_staff_user):
    create_staff_user("admin", password=None)
    login = create_staff_user("agent", password=None)
    sign_in_as(client, login)
    services.deactivate(services.get_staff(login.id), actor=TEST_ACTOR)
    db.session.commit()

    assert client.get("/staff/customers").status_code == 302


def test_a_role_change_applies_at_the_next_request(client, db, create_staff_user):
    login = create_staff_user("agent", password=None)
    sign_in_as(client, login)
    assert client.get("/staff/customers").status_code == 200
    services.change_role(services.get_staff(login.id), "admin", actor=TEST_ACTOR)
    db.session.commit()

    assert client.get("/staff/customers").status_code == 403
    assert client.get("/staff/admin/staff").status_code == 200


def test_the_password_link_page_sets_the_password_once(client, db):
    _, link = services.create_staff("linked@staff.example", "Lin Linked", "agent",
                                    actor=TEST_ACTOR)
    db.session.commit()
    path = urlsplit(link).path

    short = _post(client, path, password="short", confirm="short")
    done = _post(client, path, password="a long enough password", confirm="a long enough password")

    assert short.status_code == 422 and "12 characters" in short.get_data(as_text=True)
    assert done.status_code == 302 and done.location.endswith("/staff/sign-in")
    assert client.get(path).status_code == 404
    assert services.authenticate("linked@staff.example", "a long enough password")
