"""Creators and helpers for staff tests (imported by tests/staff/conftest.py and others).

``create_staff_user(role)`` makes an account with a password and an
enrolled authenticator and returns a :class:`StaffLogin`; ``sign_in_as``
puts a staff session straight into a test client's cookie (the sign-in
flow itself is tested on its own); ``csrf_token`` fetches a form token.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

import pyotp
import pytest
from flask import g, request_started

from tests.conftest import TEST_ACTOR

_TOKEN = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')


@dataclass(frozen=True)
class StaffLogin:
    """What a test needs to act as a staff member."""

    id: str
    email: str
    password: str | None
    role: str
    totp_secret: str

    def code(self, at: float | None = None) -> str:
        """The authenticator code at ``at`` (default: now)."""
        return pyotp.TOTP(self.totp_secret).at(int(at if at is not None else time.time()))


@pytest.fixture
def fresh_g_per_request(app):
    """Give every request its own ``g``, as in production.

    The test client reuses the app context the test pushed, so ``g`` (and
    Flask-WTF's cached CSRF token with it) would outlive a request.
    """
    def reset(sender, **extra):
        for name in list(g):
            g.pop(name)

    request_started.connect(reset, app)
    yield
    request_started.disconnect(reset, app)


@pytest.fixture
def create_staff_user(db):
    """Creator: ``create_staff_user(role="agent", **options)`` commits and returns a StaffLogin.

    Options: ``email``, ``name``, ``password`` (a default one; ``None`` for
    none, which saves an argon2 hash when the test signs in through the
    session), ``enrolled`` (default True: authenticator set up).
    """
    from consentmgr.staff import services

    def create(role: str = "agent", *, email: str | None = None, name: str | None = None,
               password: str | None = "correct horse battery staple",
               enrolled: bool = True) -> StaffLogin:
        email = email or f"{role}-{uuid.uuid4().hex[:8]}@staff.example"
        user, link = services.create_staff(email, name or f"Test {role.title()}", role,
                                           actor=TEST_ACTOR)
        if password is not None:
            services.set_password(link.rsplit("/", 1)[1], password)
        secret = ""
        if enrolled:
            secret = services.start_totp_enrolment(user).secret
            user.totp_enrolled = True
        db.session.commit()
        return StaffLogin(id=str(user.id), email=email, password=password, role=role,
                          totp_secret=secret)

    return create


def sign_in_as(client: Any, login: StaffLogin | None = None, *, seen: float | None = None,
               **extra: Any) -> None:
    """Give ``client`` a signed-in staff session for ``login`` (and any ``extra`` keys)."""
    with client.session_transaction() as session:
        if login is not None:
            session["staff_id"] = login.id
            session["staff_role"] = login.role
            session["staff_seen"] = int(seen if seen is not None else time.time())
        session.update(extra)


def csrf_token(client: Any) -> str:
    """A CSRF token for ``client``'s session, from a staff page that has a form."""
    response = client.get("/staff/sign-in")
    if response.status_code == 302:  # signed in: the layout's sign-out form has one
        response = client.get("/staff/")
    match = _TOKEN.search(response.get_data(as_text=True))
    assert match, "no CSRF token on the page"
    return match.group(1)
