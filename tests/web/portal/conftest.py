"""Portal fixtures: a customer with the shipped policy in effect, and signing in.

CSRF protection is on in these tests (as in production): helpers read the
token from the rendered form, as a browser would.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from consentmgr.customers.signin import request_sign_in_link

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_from(html: str | bytes) -> str:
    """The CSRF token of the first form in a rendered page."""
    text = html.decode() if isinstance(html, bytes) else html
    match = _CSRF.search(text)
    assert match, "no CSRF token on the page"
    return match.group(1)


def post_form(client, page: str, action: str | None = None, data: dict[str, Any] | None = None,
              **kwargs: Any):
    """GET ``page``, then POST ``data`` with that page's CSRF token to ``action`` (or ``page``)."""
    token = csrf_from(client.get(page).data)
    return client.post(action or page, data={"csrf_token": token, **(data or {})}, **kwargs)


@pytest.fixture
def customer(publish_policy_files, create_customer):
    """A customer, with both shipped policy versions published (2026-03 in effect)."""
    publish_policy_files()
    return create_customer(email="ada@example.org", name="Ada Lovelace")


def link_path(url: str) -> str:
    """The path of a mailed sign-in link (``/portal/sign-in/<token>``)."""
    return url[url.index("/portal/"):]


def mail_link(db, email: str) -> str:
    """Ask for a sign-in link for ``email`` through the service; return its path."""
    link = request_sign_in_link(email)
    db.session.commit()
    assert link is not None
    return link_path(link.url)


@pytest.fixture
def sign_in(client, db):
    """``sign_in(customer)``: sign in through a mailed link and its confirmation button."""

    def do(who) -> None:
        path = mail_link(db, who.email)
        response = post_form(client, path)
        assert response.status_code == 302, response.data
        assert response.headers["Location"].endswith("/portal/")

    return do


@pytest.fixture
def signed_in(customer, sign_in):
    """The ``customer``, signed in with the test client."""
    sign_in(customer)
    return customer
