"""Staff sign-in: password, then an authenticator code; enrolment; sign-out.

Sign-in is two steps: :func:`authenticate` (email and argon2id password),
then :func:`verify_totp` (or :func:`enrol_totp` the first time). Both
refuse with one message whatever went wrong, so the screens never tell an
attacker whether an address belongs to a member of staff, and both write
a ``staff.sign-in-failed`` entry *before* raising; their errors keep that
record (``keeps_record``), so the unit of work commits it although the
attempt failed. Unknown addresses cost a dummy argon2 verification, so
timing does not tell either.
"""

from __future__ import annotations

import functools
import hmac
import re
import secrets
import time
from dataclasses import dataclass

import pyotp
from argon2.exceptions import InvalidHashError, VerificationError

from consentmgr.actors import Actor
from consentmgr.audit import actions
from consentmgr.audit import services as audit
from consentmgr.errors import Conflict, DomainError
from consentmgr.extensions import db
from consentmgr.i18n import gettext
from consentmgr.sql import utcnow
from consentmgr.staff import accounts
from consentmgr.staff.accounts import MAX_PASSWORD, find_staff_by_email, staff_actor
from consentmgr.staff.models import StaffUser

TOTP_ISSUER = "Northwind privacy centre"
TOTP_DRIFT_STEPS = 1  # accept the previous and next 30-second code: clocks drift
ANONYMOUS = Actor("anonymous", "anonymous")

_CODE = re.compile(r"^\d{6}$")


class SignInFailed(DomainError):
    """Email or password not accepted. One message for every cause, on purpose."""

    status = 401
    title = "Sign-in failed"
    keeps_record = True  # the staff.sign-in-failed entry

    def __init__(self) -> None:
        super().__init__(
            gettext("That email address and password do not match an active staff account."))


class InvalidCode(DomainError):
    """The authenticator code was wrong, expired or already used."""

    status = 401
    title = "Sign-in failed"
    keeps_record = True  # the staff.sign-in-failed entry

    def __init__(self) -> None:
        super().__init__(gettext(
            "That code is not right. Enter the 6-digit code your authenticator app shows now."
        ))


@dataclass(frozen=True)
class TotpEnrolment:
    """A new authenticator secret, to be typed or scanned into an app."""

    secret: str
    uri: str


@functools.cache
def _dummy_hash() -> str:
    return accounts.password_hasher.hash(secrets.token_urlsafe(16))


def _record_failure(user: StaffUser | None, step: str, *, client_address: str | None,
                    request_id: str | None, reason: str | None = None) -> None:
    # The typed email is never written: the actor is the account if one
    # matched, otherwise "anonymous".
    details: dict[str, str] = {"step": step}
    if reason:
        details["reason"] = reason
    audit.record(actions.STAFF_SIGN_IN_FAILED, actor=staff_actor(user) if user else ANONYMOUS,
                 outcome=actions.FAILURE, client_address=client_address, request_id=request_id,
                 details=details)


def authenticate(email: str, password: str, *, client_address: str | None = None,
                 request_id: str | None = None) -> StaffUser:
    """Check email and password (the first sign-in step); returns the account.

    Raises :class:`SignInFailed`, with the same message for an unknown
    address, a wrong password, an account without a password yet and a
    deactivated account, after recording ``staff.sign-in-failed``.
    """
    hasher = accounts.password_hasher
    user = find_staff_by_email(email)
    usable = isinstance(password, str) and 0 < len(password) <= MAX_PASSWORD
    ok = False
    try:
        if user is not None and user.password_hash:
            ok = usable and hasher.verify(user.password_hash, password)
        else:
            # Spend the time a real verification takes: the response time
            # must not say whether the address has an account.
            hasher.verify(_dummy_hash(), password if usable else "")
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or user is None or not user.active:
        reason = None
        if user is not None:
            reason = ("inactive" if not user.active else "no-password" if not user.password_hash
                      else "wrong-password")
        _record_failure(user, "password", reason=reason, client_address=client_address,
                        request_id=request_id)
        raise SignInFailed()
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
        db.session.flush()
    return user


def _matching_step(secret: str, code: str, *, now: float | None = None) -> int | None:
    code = re.sub(r"\s", "", code or "")
    if not _CODE.match(code):
        return None
    totp = pyotp.TOTP(secret)
    current = int(time.time() if now is None else now) // totp.interval
    for step in range(current - TOTP_DRIFT_STEPS, current + TOTP_DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _accept_code(user: StaffUser, code: str, *, client_address: str | None,
                 request_id: str | None) -> None:
    step = _matching_step(user.totp_secret or "", code) if user.active else None
    # A code is good for one sign-in: an observed code cannot be replayed.
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        _record_failure(user, "totp", client_address=client_address, request_id=request_id,
                        reason="replayed" if step is not None else None)
        raise InvalidCode()
    user.totp_last_step = step


def _signed_in(user: StaffUser, *, client_address: str | None, request_id: str | None) -> None:
    user.last_sign_in_at = utcnow()
    db.session.flush()
    audit.record(actions.STAFF_SIGN_IN, actor=staff_actor(user), client_address=client_address,
                 request_id=request_id)


def verify_totp(user: StaffUser, code: str, *, client_address: str | None = None,
                request_id: str | None = None) -> None:
    """Check the authenticator code (the second step) and record the sign-in.

    Raises :class:`InvalidCode` (after recording ``staff.sign-in-failed``)
    for a wrong, stale or replayed code, or an account not enrolled.
    """
    if not user.totp_enrolled:
        _record_failure(user, "totp", reason="not-enrolled", client_address=client_address,
                        request_id=request_id)
        raise InvalidCode()
    _accept_code(user, code, client_address=client_address, request_id=request_id)
    _signed_in(user, client_address=client_address, request_id=request_id)


def start_totp_enrolment(user: StaffUser) -> TotpEnrolment:
    """The secret (created on first call) and ``otpauth://`` URI to set up an authenticator."""
    if user.totp_enrolled:
        raise Conflict("This account already has an authenticator.")
    if not user.totp_secret:
        user.totp_secret = pyotp.random_base32()
        db.session.flush()
    uri = pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.email, issuer_name=TOTP_ISSUER)
    return TotpEnrolment(secret=user.totp_secret, uri=uri)


def enrol_totp(user: StaffUser, code: str, *, client_address: str | None = None,
               request_id: str | None = None) -> None:
    """Confirm the authenticator with its first code; this completes the sign-in.

    Raises :class:`InvalidCode` (recorded) when the code does not match the
    secret from :func:`start_totp_enrolment`.
    """
    if user.totp_enrolled or not user.totp_secret:
        raise Conflict("Start the authenticator set-up again.")
    _accept_code(user, code, client_address=client_address, request_id=request_id)
    user.totp_enrolled = True
    db.session.flush()
    audit.record(actions.STAFF_TOTP_ENROLLED, actor=staff_actor(user),
                 client_address=client_address, request_id=request_id)
    _signed_in(user, client_address=client_address, request_id=request_id)


def current_totp_code(user: StaffUser) -> str:
    """The code an authenticator would show now (development only; see ``staff totp-code``)."""
    if not user.totp_secret:
        raise Conflict("This account has no authenticator secret yet: sign in once to create it.")
    return pyotp.TOTP(user.totp_secret).now()


def sign_out(user: StaffUser, *, reason: str = "user", client_address: str | None = None,
             request_id: str | None = None) -> None:
    """Record the end of a session (``reason``: ``user``, ``idle`` or ``lifetime``)."""
    audit.record(actions.STAFF_SIGN_OUT, actor=staff_actor(user), client_address=client_address,
                 request_id=request_id, details={"reason": reason})
