"""The life of one session row: start, open (judging idle and absolute expiry), save, end, purge.

Every function takes the SQLAlchemy session to work in and the current time
(``now``), and flushes; the boundary commits (the web layer's session
interface, or ``flask sessions purge``). Expiry is judged here, from the
row, never from anything the browser sends: a cookie can only name a row.

``last_seen_at`` is written at most every :data:`TOUCH_INTERVAL` (and
whenever the data changes), so a busy page costs no write per request; the
idle timeout may therefore end a session up to that much early, never late.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from typing import Any, Mapping

import sqlalchemy as sa
from sqlalchemy.orm import Session

from consentmgr.sessions.models import EndReason, SessionKind, WebSession
from consentmgr.sessions.sealing import SealBroken, seal, unseal
from consentmgr.tokens import issue_token, token_digest

ID_BYTES = 32  # 256 random bits in every cookie
TOUCH_INTERVAL = dt.timedelta(seconds=60)
# token_urlsafe(32): 43 characters of the URL-safe alphabet. Anything else is
# not one of ours and is never looked up.
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")
_TABLE = WebSession.__table__


@dataclass(frozen=True)
class Policy:
    """How long a session of one kind may live: idle, and in all."""

    idle: dt.timedelta
    lifetime: dt.timedelta


# Settings (``app.config``, from ``CONSENTMGR_<NAME>``) and their defaults.
DEFAULT_IDLE_MINUTES = 15
DEFAULT_SESSION_HOURS = {SessionKind.PORTAL: 12, SessionKind.STAFF: 8}
IDLE_SETTINGS = {SessionKind.PORTAL: "PORTAL_IDLE_MINUTES", SessionKind.STAFF: "STAFF_IDLE_MINUTES"}
LIFETIME_SETTINGS = {SessionKind.PORTAL: "PORTAL_SESSION_HOURS",
                     SessionKind.STAFF: "STAFF_SESSION_HOURS"}


def policy_from(config: Mapping[str, Any], kind: SessionKind) -> Policy:
    """The idle timeout and absolute lifetime of ``kind`` from a configuration mapping."""
    idle = int(config.get(IDLE_SETTINGS[kind], DEFAULT_IDLE_MINUTES))
    hours = int(config.get(LIFETIME_SETTINGS[kind], DEFAULT_SESSION_HOURS[kind]))
    return Policy(idle=dt.timedelta(minutes=idle), lifetime=dt.timedelta(hours=hours))


@dataclass(frozen=True)
class Opened:
    """A live session found for a cookie: its row's facts and its data."""

    id: uuid.UUID
    kind: SessionKind
    customer_id: uuid.UUID | None
    staff_id: uuid.UUID | None
    payload: bytes
    touch_due: bool


@dataclass(frozen=True)
class Ended:
    """A session that was found for a cookie but had run out (and has now been ended)."""

    id: uuid.UUID
    kind: SessionKind
    reason: EndReason
    customer_id: uuid.UUID | None
    staff_id: uuid.UUID | None


def well_formed(token: str | None) -> bool:
    """True if ``token`` could be one of our session ids (anything else is not looked up)."""
    return isinstance(token, str) and bool(_TOKEN.match(token))


def _associated(token_hash: str, kind: SessionKind) -> bytes:
    return f"{token_hash}|{SessionKind(kind).value}".encode("ascii")


def start_session(session: Session, kind: SessionKind, payload: bytes, *, now: dt.datetime,
                  policy: Policy, customer_id: uuid.UUID | None = None,
                  staff_id: uuid.UUID | None = None, user_agent: str = "") -> str:
    """A new session row holding ``payload``; returns the id for the cookie (shown only here)."""
    issued = issue_token(ID_BYTES)
    session.add(WebSession(
        token_hash=issued.digest, kind=kind, customer_id=customer_id, staff_id=staff_id,
        data=seal(issued.token, payload, associated=_associated(issued.digest, kind)),
        user_agent=user_agent[:64], created_at=now, last_seen_at=now,
        expires_at=now + policy.lifetime))
    session.flush()
    return issued.token


def open_session(session: Session, token: str, kind: SessionKind, *, now: dt.datetime,
                 policy: Policy) -> Opened | Ended | None:
    """The live session ``token`` names, an :class:`Ended` one if it ran out just now, or None.

    None for an unknown, malformed or already ended id, or for data that
    does not open (such a row is ended). Only signed-in sessions have an
    idle timeout: a visitor's CSRF token should not expire while they read
    the sign-in page; every session has its absolute lifetime.
    """
    if not well_formed(token):
        return None
    token_hash = token_digest(token)
    row = session.scalar(sa.select(WebSession).where(WebSession.token_hash == token_hash,
                                                     WebSession.kind == kind))
    if row is None or row.ended_at is not None:
        return None
    signed_in = row.customer_id is not None or row.staff_id is not None
    reason = None
    if now >= row.expires_at:
        reason = EndReason.EXPIRED
    elif signed_in and now - row.last_seen_at > policy.idle:
        reason = EndReason.IDLE
    if reason is not None:
        end_row(session, row.id, reason, now=now)
        return Ended(id=row.id, kind=row.kind, reason=reason, customer_id=row.customer_id,
                     staff_id=row.staff_id)
    try:
        payload = unseal(token, row.data, associated=_associated(token_hash, kind)) if row.data \
            else b""
    except SealBroken:
        end_row(session, row.id, EndReason.INVALID, now=now)
        return None
    return Opened(id=row.id, kind=row.kind, customer_id=row.customer_id, staff_id=row.staff_id,
                  payload=payload, touch_due=now - row.last_seen_at >= TOUCH_INTERVAL)


def save_data(session: Session, opened: Opened, token: str, payload: bytes, *,
              now: dt.datetime) -> None:
    """Replace a live session's data (and note the activity)."""
    token_hash = token_digest(token)
    session.execute(
        sa.update(_TABLE).where(_TABLE.c.id == opened.id, _TABLE.c.ended_at.is_(None))
        .values(data=seal(token, payload, associated=_associated(token_hash, opened.kind)),
                last_seen_at=now))


def touch(session: Session, opened: Opened, *, now: dt.datetime) -> None:
    """Note activity on a live session (callers do this at most every TOUCH_INTERVAL)."""
    session.execute(sa.update(_TABLE).where(_TABLE.c.id == opened.id,
                                            _TABLE.c.ended_at.is_(None))
                    .values(last_seen_at=now))


def end_row(session: Session, session_id: uuid.UUID, reason: EndReason, *,
            now: dt.datetime) -> bool:
    """End one session: its id opens nothing from now on, and its data is dropped.

    Returns False if it had already ended.
    """
    result = session.execute(
        sa.update(_TABLE).where(_TABLE.c.id == session_id, _TABLE.c.ended_at.is_(None))
        .values(ended_at=now, ended_reason=EndReason(reason).value, data=None),
        execution_options={"synchronize_session": False})
    return bool(result.rowcount)


def end_sessions_of(session: Session, *, reason: EndReason, now: dt.datetime,
                    customer_ids: list[uuid.UUID] | tuple[uuid.UUID, ...] = (),
                    staff_ids: list[uuid.UUID] | tuple[uuid.UUID, ...] = ()) -> int:
    """End every live session of these customers and staff members; returns how many."""
    owners = []
    if customer_ids:
        owners.append(_TABLE.c.customer_id.in_(list(customer_ids)))
    if staff_ids:
        owners.append(_TABLE.c.staff_id.in_(list(staff_ids)))
    if not owners:
        return 0
    result = session.execute(
        sa.update(_TABLE).where(sa.or_(*owners), _TABLE.c.ended_at.is_(None))
        .values(ended_at=now, ended_reason=EndReason(reason).value, data=None),
        execution_options={"synchronize_session": False})
    return int(result.rowcount or 0)


def purge(session: Session, *, now: dt.datetime, policies: dict[SessionKind, Policy]) -> int:
    """Delete ended sessions and those past their lifetime or idle time; returns how many."""
    gone = [_TABLE.c.ended_at.is_not(None), _TABLE.c.expires_at <= now]
    for kind, policy in policies.items():
        gone.append(sa.and_(_TABLE.c.kind == SessionKind(kind).value,
                            sa.or_(_TABLE.c.customer_id.is_not(None),
                                   _TABLE.c.staff_id.is_not(None)),
                            _TABLE.c.last_seen_at < now - policy.idle))
    result = session.execute(sa.delete(_TABLE).where(sa.or_(*gone)),
                             execution_options={"synchronize_session": False})
    return int(result.rowcount or 0)
