"""Seeing and ending sessions: a staff member's own, an administrator's view of everyone's,
and a customer's "sign out everywhere". Every deliberate ending is audited.

Audit entries name sessions by their random handle (``WebSession.id``) and
owners by id: no browser label, no address, nothing from the cookie.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import sqlalchemy as sa

from consentmgr.actors import Actor
from consentmgr.audit import actions
from consentmgr.audit import services as audit
from consentmgr.errors import NotFound
from consentmgr.extensions import db
from consentmgr.sessions.models import EndReason, SessionKind, WebSession
from consentmgr.sessions.store import Policy, end_row, end_sessions_of
from consentmgr.sql import as_uuid, utcnow
from consentmgr.staff.permissions import Permission, can


class SessionNotFound(NotFound):
    """No such live session, or one the caller may not see."""

    def __init__(self) -> None:
        super().__init__("This session has already ended, or it is not one you can end.")


@dataclass(frozen=True)
class ActiveSession:
    """One live session as the staff sessions page lists it."""

    id: uuid.UUID
    staff_id: uuid.UUID | None
    started: dt.datetime
    last_active: dt.datetime
    expires: dt.datetime
    browser: str


def _live(policy: Policy, now: dt.datetime):
    return sa.and_(WebSession.ended_at.is_(None), WebSession.expires_at > now,
                   WebSession.last_seen_at >= now - policy.idle)


def active_staff_sessions(*, policy: Policy, staff_id: uuid.UUID | str | None = None,
                          now: dt.datetime | None = None) -> list[ActiveSession]:
    """Live signed-in staff sessions, most recently active first (one member's, or everyone's)."""
    now = now or utcnow()
    query = sa.select(WebSession).where(WebSession.kind == SessionKind.STAFF,
                                        WebSession.staff_id.is_not(None), _live(policy, now))
    if staff_id is not None:
        query = query.where(WebSession.staff_id == as_uuid(staff_id))
    rows = db.session.scalars(query.order_by(WebSession.last_seen_at.desc(), WebSession.id))
    return [ActiveSession(id=row.id, staff_id=row.staff_id, started=row.created_at,
                          last_active=row.last_seen_at, expires=row.expires_at,
                          browser=row.user_agent) for row in rows]


def end_staff_session(session_id: uuid.UUID | str, *, actor: Actor,
                      now: dt.datetime | None = None, request_id: str | None = None,
                      client_address: str | None = None) -> uuid.UUID:
    """End one staff session: the actor's own, or anyone's for an administrator.

    Returns the owner's staff id. A session the actor may not end is
    reported as not found: agents do not learn whose sessions exist.
    Audited as ``staff.session-ended``; flushes, never commits.
    """
    now = now or utcnow()
    key = as_uuid(session_id)
    row = db.session.get(WebSession, key) if key is not None else None
    if (row is None or row.kind != SessionKind.STAFF or row.staff_id is None
            or row.ended_at is not None):
        raise SessionNotFound()
    own = actor.type == "staff" and str(row.staff_id) == actor.id
    if not own and not can(actor.role, Permission.ADMINISTER):
        raise SessionNotFound()
    end_row(db.session, row.id, EndReason.ENDED, now=now)
    audit.record(actions.STAFF_SESSION_ENDED, actor=actor, request_id=request_id,
                 client_address=client_address,
                 details={"session_id": str(row.id), "staff_id": str(row.staff_id),
                          "own": own})
    return row.staff_id


def sign_out_everywhere(customer_id: uuid.UUID, *, actor: Actor,
                        now: dt.datetime | None = None) -> int:
    """End every session of a customer, on every device; returns how many. Audited."""
    ended = end_sessions_of(db.session, reason=EndReason.EVERYWHERE, now=now or utcnow(),
                            customer_ids=[customer_id])
    audit.record(actions.PORTAL_SIGNED_OUT_EVERYWHERE, actor=actor, subject_id=customer_id,
                 details={"sessions": ended})
    return ended
