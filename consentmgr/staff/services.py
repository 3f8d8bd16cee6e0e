"""Rules for staff accounts: create, set a password, sign in, roles, deactivation.

Sign-in is two steps: :func:`authenticate` (email and argon2id password),
then :func:`verify_totp` (or :func:`enrol_totp` the first time). Both
refuse with one message whatever went wrong, so the screens never tell an
attacker whether an address belongs to a member of staff, and both write
a ``staff.sign-in-failed`` entry *before* raising: the caller commits it
even though the attempt failed. Unknown addresses cost a dummy argon2
verification, so timing does not tell either.

Like every service, these validate, change, write their audit entry and
``flush()``; the request or command boundary commits.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Iterable

import pyotp
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

from consentmgr.actors import Actor
from consentmgr.audit import actions
from consentmgr.audit import services as audit
from consentmgr.crypto import BlindIndexer, KeyRing, normalise_email
from consentmgr.errors import Conflict, DomainError, NotFound, ValidationFailed
from consentmgr.extensions import db
from consentmgr.sql import utcnow
from consentmgr.staff.models import PasswordToken, StaffRole, StaffUser

PASSWORD_LINK_LIFETIME = dt.timedelta(hours=48)
MIN_PASSWORD = 12  # NIST SP 800-63B: length, not composition rules
MAX_PASSWORD = 256  # argon2 accepts more; a cap keeps one request from costing much more
MAX_EMAIL = 254
MAX_DISPLAY_NAME = 100
TOTP_ISSUER = "Northwind privacy centre"
TOTP_DRIFT_STEPS = 1  # accept the previous and next 30-second code: clocks drift
ANONYMOUS = Actor("anonymous", "anonymous")

# Audited actions of this area beyond those in consentmgr.audit.actions.
STAFF_PASSWORD_SET = "staff.password-set"
STAFF_PASSWORD_LINK_ISSUED = "staff.password-link-issued"
STAFF_TOTP_ENROLLED = "staff.totp-enrolled"
STAFF_ACCESS_DENIED = "staff.access-denied"  # a screen outside the staff member's role

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CODE = re.compile(r"^\d{6}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory parameters


class SignInFailed(DomainError):
    """Email or password not accepted. One message for every cause, on purpose."""

    status = 401
    title = "Sign-in failed"

    def __init__(self) -> None:
        super().__init__("That email address and password do not match an active staff account.")


class InvalidCode(DomainError):
    """The authenticator code was wrong, expired or already used."""

    status = 401
    title = "Sign-in failed"

    def __init__(self) -> None:
        super().__init__(
            "That code is not right. Enter the 6-digit code your authenticator app shows now."
        )


class PasswordLinkInvalid(NotFound):
    """The password-setting link is unknown, used or expired."""

    def __init__(self) -> None:
        super().__init__(
            "This password link has expired or has already been used. "
            "Ask an administrator for a new one."
        )


class StaffNotFound(NotFound):
    """No staff account with that id or email."""

    def __init__(self) -> None:
        super().__init__("No staff account with that id.")


class LastAdministrator(Conflict):
    """The change would leave no active administrator to manage accounts."""

    def __init__(self) -> None:
        super().__init__(
            "This is the last active administrator: make someone else an administrator first."
        )


@dataclass(frozen=True)
class StaffCard:
    """What a customer may learn about a staff member who accessed their data."""

    display_name: str
    role: str


@dataclass(frozen=True)
class TotpEnrolment:
    """A new authenticator secret, to be typed or scanned into an app."""

    secret: str
    uri: str


# ------------------------------------------------------------------ helpers


def _settings():
    return current_app.extensions["consentmgr"].settings


@functools.lru_cache(maxsize=4)
def _indexer(keyring: KeyRing) -> BlindIndexer:
    # Its own HKDF label ("consentmgr/blind-index/staff-email"): never the
    # MAC key of the customers' email index.
    return BlindIndexer(keyring, "staff-email")


def email_lookup_key(email: str) -> str:
    """The blind-index value of a staff email (also a safe rate-limit key)."""
    return _indexer(_settings().blind_index_keys).compute(normalise_email(email))


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    # SQLite returns timestamps without a zone; they were written in UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


def staff_actor(user: StaffUser) -> Actor:
    """The actor for everything ``user`` does (id and role; never the name or email)."""
    return Actor("staff", str(user.id), role=StaffRole(user.role).value)


def _role(role: StaffRole | str, errors: dict[str, list[str]]) -> StaffRole | None:
    try:
        return StaffRole(role)
    except ValueError:
        errors.setdefault("role", []).append(
            f"Choose a role: {', '.join(r.value for r in StaffRole)}.")
        return None


# ------------------------------------------------------------------ reading


def find_staff_by_email(email: str) -> StaffUser | None:
    """The account with this email address (exact, after normalisation), active or not."""
    if not isinstance(email, str) or not email.strip() or len(email) > MAX_EMAIL:
        return None
    candidates = _indexer(_settings().blind_index_keys).candidates(normalise_email(email))
    return db.session.scalar(sa.select(StaffUser).where(StaffUser.email_index.in_(candidates)))


def get_staff(staff_id: uuid.UUID | str) -> StaffUser:
    """The account with this id; raises :class:`StaffNotFound`."""
    try:
        key = staff_id if isinstance(staff_id, uuid.UUID) else uuid.UUID(str(staff_id))
    except ValueError:
        raise StaffNotFound() from None
    user = db.session.get(StaffUser, key)
    if user is None:
        raise StaffNotFound()
    return user


def get_active_staff(staff_id: uuid.UUID | str) -> StaffUser | None:
    """The account with this id if it exists and is active (for each signed-in request)."""
    try:
        user = get_staff(staff_id)
    except StaffNotFound:
        return None
    return user if user.active else None


def list_staff() -> list[StaffUser]:
    """Every account, oldest first (deactivated ones included)."""
    return list(db.session.scalars(sa.select(StaffUser).order_by(StaffUser.created_at, StaffUser.id)))


def staff_directory(staff_ids: Iterable[str]) -> dict[str, StaffCard]:
    """Display name and role for each known id (``str(uuid)``); unknown ids are left out.

    For the customer's "Who has accessed my data" page (GDPR Art. 15:
    transparency about who processed their data): audit entries hold staff
    ids only. Deactivated accounts are included; their accesses still count.
    """
    wanted: set[uuid.UUID] = set()
    for staff_id in staff_ids:
        try:
            wanted.add(uuid.UUID(str(staff_id)))
        except ValueError:
            continue
    if not wanted:
        return {}
    users = db.session.scalars(sa.select(StaffUser).where(StaffUser.id.in_(wanted)))
    return {str(u.id): StaffCard(display_name=u.display_name or "", role=StaffRole(u.role).value)
            for u in users}


# ------------------------------------------------------------- accounts


def create_staff(email: str, display_name: str, role: StaffRole | str, *,
                 actor: Actor) -> tuple[StaffUser, str]:
    """Create an account; returns it and a one-time link to set its password.

    The account cannot sign in until the link is used; the second factor is
    enrolled at the first sign-in. Raises :class:`ValidationFailed` for a
    malformed address, a blank name, an unknown role or an address already
    in use.
    """
    errors: dict[str, list[str]] = {}
    email = email.strip() if isinstance(email, str) else ""
    if not _EMAIL.match(email) or len(email) > MAX_EMAIL:
        errors["email"] = ["Enter an email address such as name@example.com."]
    elif find_staff_by_email(email) is not None:
        errors["email"] = ["A staff account with this email address already exists."]
    name = display_name.strip() if isinstance(display_name, str) else ""
    if not name:
        errors["display_name"] = ["Enter the name colleagues and customers will see."]
    elif len(name) > MAX_DISPLAY_NAME or not name.isprintable():
        errors["display_name"] = [f"Use at most {MAX_DISPLAY_NAME} printable characters."]
    chosen = _role(role, errors)
    if errors:
        raise ValidationFailed(errors)
    user = StaffUser(id=uuid.uuid4(), role=chosen, active=True, totp_enrolled=False)
    user.email_index = email_lookup_key(email)
    user.email = normalise_email(email)
    user.display_name = name
    db.session.add(user)
    db.session.flush()
    link = _issue_password_link(user)
    audit.record(actions.STAFF_CREATED, actor=actor,
                 details={"staff_id": str(user.id), "role": chosen.value})
    return user, link


def _issue_password_link(user: StaffUser) -> str:
    # One live link per account: a new one replaces any unused older one.
    db.session.execute(sa.delete(PasswordToken).where(
        PasswordToken.staff_id == user.id, PasswordToken.used_at.is_(None)))
    token = secrets.token_urlsafe(32)
    db.session.add(PasswordToken(token_hash=_hash_token(token), staff_id=user.id,
                                 expires_at=utcnow() + PASSWORD_LINK_LIFETIME))
    db.session.flush()
    return f"{_settings().base_url}/staff/set-password/{token}"


def issue_password_link(user: StaffUser, *, actor: Actor) -> str:
    """A new one-time password link for an existing, active account (a forgotten password)."""
    if not user.active:
        raise Conflict("This account is deactivated.")
    link = _issue_password_link(user)
    audit.record(STAFF_PASSWORD_LINK_ISSUED, actor=actor, details={"staff_id": str(user.id)})
    return link


def _valid_token(token: str) -> PasswordToken:
    if not isinstance(token, str) or not _TOKEN.match(token):
        raise PasswordLinkInvalid()
    row = db.session.get(PasswordToken, _hash_token(token))
    if row is None or row.used_at is not None or _aware(row.expires_at) <= utcnow():
        raise PasswordLinkInvalid()
    user = db.session.get(StaffUser, row.staff_id)
    if user is None or not user.active:
        raise PasswordLinkInvalid()
    return row


def check_password_link(token: str) -> StaffUser:
    """The account a password link is for; raises :class:`PasswordLinkInvalid`."""
    return db.session.get(StaffUser, _valid_token(token).staff_id)


def _password_errors(password: object, user: StaffUser) -> list[str]:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        return [f"Use at least {MIN_PASSWORD} characters; a few unrelated words work well."]
    if len(password) > MAX_PASSWORD:
        return [f"Use at most {MAX_PASSWORD} characters."]
    if len(set(password)) < 4:
        return ["Use a password with more variety than that."]
    if normalise_email(password) == (user.email or "") or password.lower() in (user.email or ""):
        return ["Do not use your email address as your password."]
    return []


def set_password(token: str, password: str) -> StaffUser:
    """Set the password through a one-time link, which is then used up.

    Raises :class:`PasswordLinkInvalid` (the link is not consumed) or
    :class:`ValidationFailed` for a password that is too short or too long
    (the link stays usable, so the form can be corrected).
    """
    row = _valid_token(token)
    user = db.session.get(StaffUser, row.staff_id)
    problems = _password_errors(password, user)
    if problems:
        raise ValidationFailed({"password": problems})
    user.password_hash = _hasher.hash(password)
    row.used_at = utcnow()
    db.session.flush()
    audit.record(STAFF_PASSWORD_SET, actor=staff_actor(user))
    return user


def change_role(user: StaffUser, role: StaffRole | str, *, actor: Actor) -> None:
    """Give ``user`` another role; effective on their next request."""
    errors: dict[str, list[str]] = {}
    new = _role(role, errors)
    if errors:
        raise ValidationFailed(errors)
    old = StaffRole(user.role)
    if new == old:
        return
    if old == StaffRole.ADMIN and user.active:
        _ensure_another_admin(user)
    user.role = new
    db.session.flush()
    audit.record(actions.STAFF_ROLE_CHANGED, actor=actor,
                 details={"staff_id": str(user.id), "from": old.value, "to": new.value})


def deactivate(user: StaffUser, *, actor: Actor) -> None:
    """End ``user``'s access for good: sessions end at their next request, links stop working.

    The account is kept (not erased) so that audit entries and the
    customers' access pages can still name who acted.
    """
    if not user.active:
        return
    if StaffRole(user.role) == StaffRole.ADMIN:
        _ensure_another_admin(user)
    user.active = False
    user.deactivated_at = utcnow()
    db.session.execute(sa.delete(PasswordToken).where(
        PasswordToken.staff_id == user.id, PasswordToken.used_at.is_(None)))
    db.session.flush()
    audit.record(actions.STAFF_DEACTIVATED, actor=actor, details={"staff_id": str(user.id)})


def _ensure_another_admin(user: StaffUser) -> None:
    others = db.session.scalar(
        sa.select(sa.func.count()).select_from(StaffUser).where(
            StaffUser.role == StaffRole.ADMIN, StaffUser.active.is_(True),
            StaffUser.id != user.id))
    if not others:
        raise LastAdministrator()


# --------------------------------------------------------------- sign-in


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
    user = find_staff_by_email(email)
    usable = isinstance(password, str) and 0 < len(password) <= MAX_PASSWORD
    ok = False
    try:
        if user is not None and user.password_hash:
            ok = usable and _hasher.verify(user.password_hash, password)
        else:
            # Spend the time a real verification takes: the response time
            # must not say whether the address has an account.
            _hasher.verify(_dummy_hash(), password if usable else "")
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
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
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
    audit.record(STAFF_TOTP_ENROLLED, actor=staff_actor(user), client_address=client_address,
                 request_id=request_id)
    _signed_in(user, client_address=client_address, request_id=request_id)


def current_totp_code(user: StaffUser) -> str:
    """The code an authenticator would show now (development only; see ``staff totp-code``)."""
    if not user.totp_secret:
        raise Conflict("This account has no authenticator secret yet: sign in once to create it.")
    return pyotp.TOTP(user.totp_secret).now()


def sign_out(user: StaffUser, *, reason: str = "user", client_address: str | None = None,
             request_id: str | None = None) -> None:
    """Record the end of a session (``reason``: ``user`` or ``idle``)."""
    audit.record(actions.STAFF_SIGN_OUT, actor=staff_actor(user), client_address=client_address,
                 request_id=request_id, details={"reason": reason})
