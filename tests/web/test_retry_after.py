"""Every rate-limited page answers 429 with ``Retry-After`` (RFC 6585 §4), portal and staff alike.

Issue 12: "Retry-After on every 429, portal included". The header is set
only on the 429: Flask-Limiter's X-RateLimit-* headers are not sent, since
the remaining count of the per-address sign-in limit would tell whether
someone has been asking for an address's links.
"""

from __future__ import annotations

import pytest

from consentmgr.customers import signin
from tests.fixtures.staff import csrf_token
from tests.web.portal.conftest import customer, post_form  # noqa: F401


@pytest.fixture(autouse=True)
def quiet_mail(monkeypatch):
    monkeypatch.setattr(signin, "send_mail_after_commit", lambda *args, **kwargs: None)


def retry_after(response) -> int:
    assert response.status_code == 429
    value = response.headers["Retry-After"]
    assert value.isdigit(), value  # delta-seconds
    return int(value)


def test_the_per_address_sign_in_limit_says_when_to_retry(client, app, customer, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_SIGN_IN_LIMIT_PER_ADDRESS", "1 per 15 minutes")
    post_form(client, "/portal/sign-in", data={"email": customer.email})

    response = post_form(client, "/portal/sign-in", data={"email": customer.email})

    assert 1 <= retry_after(response) <= 15 * 60


def test_the_per_client_sign_in_limit_says_when_to_retry(client, app, customer, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_SIGN_IN_LIMIT_PER_CLIENT", "1 per hour")
    post_form(client, "/portal/sign-in", data={"email": "one@example.org"})

    response = post_form(client, "/portal/sign-in", data={"email": "two@example.org"})

    assert 1 <= retry_after(response) <= 3600


def test_the_sign_in_link_limit_says_when_to_retry(client, app, customer, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_SIGN_IN_LIMIT_PER_CLIENT", "1 per minute")
    bad = "/portal/sign-in/" + "x" * 32
    post_form(client, "/portal/sign-in", action=bad)

    response = post_form(client, "/portal/sign-in", action=bad)

    assert 1 <= retry_after(response) <= 60


def test_the_email_change_confirmation_limit_says_when_to_retry(client, app, customer,
                                                                monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_EMAIL_CHANGE_LIMIT_PER_CLIENT", "1 per minute")
    bad = "/portal/email/confirm/" + "x" * 32
    post_form(client, "/portal/sign-in", action=bad)

    response = post_form(client, "/portal/sign-in", action=bad)

    assert 1 <= retry_after(response) <= 60


def test_the_staff_sign_in_limit_says_when_to_retry(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "STAFF_SIGN_IN_RATE_LIMIT", "1 per minute")
    for _ in range(2):
        response = client.post("/staff/sign-in", data={
            "csrf_token": csrf_token(client), "email": "nobody@staff.example", "password": "guess"})

    assert 1 <= retry_after(response) <= 60


def test_answers_under_the_limit_carry_no_rate_limit_headers(client, customer):
    response = post_form(client, "/portal/sign-in", data={"email": customer.email})

    assert response.status_code == 302
    assert not [h for h in response.headers.keys() if h.lower().startswith(("x-ratelimit",
                                                                            "retry-after"))]
