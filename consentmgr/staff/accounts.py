"""Staff accounts: create, find, one-time password links, roles, deactivation.

An account is created without a password: the administrator gets a
one-time link (only its SHA-256 is stored, see :mod:`consentmgr.tokens`)
with which the new colleague chooses one. The second factor is enrolled at
the first sign-in (:mod:`consentmgr.staff.signin`).

Like every service, these validate, change, write their audit entry and
``flush()``; the request or command boundary commits.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid

import sqlalchemy as sa
from argon2 import PasswordHasher

from consentmgr.actors import Actor
from consentmgr.audit import actions
from consentmgr.audit import services as audit
from consentmgr.crypto import BlindIndexer, normalise_email
from consentmgr.errors import Conflict, NotFound, ValidationFailed
from consentmgr.extensions import db
from consentmgr.i18n import gettext
from consentmgr.runtime import of_session
from consentmgr.sql import get_or_raise, utcnow
from consentmgr.staff.models import PasswordToken, StaffRole, StaffUser
from consentmgr.tokens import issue_token, token_digest

PASSWORD_LINK_LIFETIME = dt.timedelta(hours=48)
MIN_PASSWORD = 12  # NIST SP 800-63B: length, not composition rules
MAX_PASSWORD = 256  # argon2 accepts more; a cap keeps one request from costing much more
MAX_EMAIL = 254
MAX_DISPLAY_NAME = 100

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
# argon2id, RFC 9106 low-memory parameters; sign-in verifies with the same one.
password_hasher = PasswordHasher()


class PasswordLinkInvalid(NotFound):
    """The password-setting link is unknown, used or expired."""

    def __init__(self) -> None:
        super().__init__(gettext(
            "This password link has expired or has already been used. "
            "Ask an administrator for a new one."
        ))


class StaffNotFound(NotFound):
    """No staff account with that id or email."""

    def __init__(self) -> None:
        super().__init__("No staff account with that id.")


class LastAdministrator(Conflict):
    """The change would leave no active administrator to manage accounts."""

    def __init__(self) -> None:
        super().__init__(gettext(
            "This is the last active administrator: make someone else an administrator first."
        ))


def staff_actor(user: StaffUser) -> Actor:
    """The actor for everything ``user`` does (id and role; never the name or email)."""
    return Actor("staff", str(user.id), role=StaffRole(user.role).value)


def _email_indexer() -> BlindIndexer:
    # Its own HKDF label ("staff-email"): never the MAC key of the customers' email index.
    return of_session(db.session).indexer("staff-email")


def email_lookup_key(email: str) -> str:
    """The blind-index value of a staff email (also a safe rate-limit key)."""
    return _email_indexer().compute(normalise_email(email))


def _role(role: StaffRole | str, errors: dict[str, list[str]]) -> StaffRole | None:
    try:
        return StaffRole(role)
    except ValueError:
        errors.setdefault("role", []).append(
            gettext("Choose a role: %(roles)s.", roles=", ".join(r.value for r in StaffRole)))
        return None


# ------------------------------------------------------------------ reading


def find_staff_by_email(email: str) -> StaffUser | None:
    """The account with this email address (exact, after normalisation), active or not."""
    if not isinstance(email, str) or not email.strip() or len(email) > MAX_EMAIL:
        return None
    candidates = _email_indexer().candidates(normalise_email(email))
    return db.session.scalar(sa.select(StaffUser).where(StaffUser.email_index.in_(candidates)))


def get_staff(staff_id: uuid.UUID | str) -> StaffUser:
    """The account with this id; raises :class:`StaffNotFound`."""
    return get_or_raise(db.session, StaffUser, staff_id, StaffNotFound)


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
        errors["email"] = [gettext("Enter an email address such as name@example.com.")]
    elif find_staff_by_email(email) is not None:
        errors["email"] = [gettext("A staff account with this email address already exists.")]
    name = display_name.strip() if isinstance(display_name, str) else ""
    if not name:
        errors["display_name"] = [gettext("Enter the name colleagues and customers will see.")]
    elif len(name) > MAX_DISPLAY_NAME or not name.isprintable():
        errors["display_name"] = [gettext("Use at most %(max)s printable characters.",
                                                 max=MAX_DISPLAY_NAME)]
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
    issued = issue_token()
    db.session.add(PasswordToken(token_hash=issued.digest, staff_id=user.id,
                                 expires_at=utcnow() + PASSWORD_LINK_LIFETIME))
    db.session.flush()
    return of_session(db.session).links.staff_set_password(issued.token)


def issue_password_link(user: StaffUser, *, actor: Actor) -> str:
    """A new one-time password link for an existing, active account (a forgotten password)."""
    if not user.active:
        raise Conflict("This account is deactivated.")
    link = _issue_password_link(user)
    audit.record(actions.STAFF_PASSWORD_LINK_ISSUED, actor=actor,
                 details={"staff_id": str(user.id)})
    return link


def _valid_token(token: str) -> PasswordToken:
    if not isinstance(token, str) or not _TOKEN.match(token):
        raise PasswordLinkInvalid()
    row = db.session.get(PasswordToken, token_digest(token))
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
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
        return [gettext("Use at least %(min)s characters; a few unrelated words work well.",
                        min=MIN_PASSWORD)]
    if len(password) > MAX_PASSWORD:
        return [gettext("Use at most %(max)s characters.", max=MAX_PASSWORD)]
    if len(set(password)) < 4:
        return [gettext("Use a password with more variety than that.")]
    if normalise_email(password) == (user.email or "") or password.lower() in (user.email or ""):
        return [gettext("Do not use your email address as your password.")]
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
    user.password_hash = password_hasher.hash(password)
    row.used_at = utcnow()
    db.session.flush()
    audit.record(actions.STAFF_PASSWORD_SET, actor=staff_actor(user))
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
