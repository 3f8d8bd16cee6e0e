"""The ``web_sessions`` table: one row per browser session of the portal or the staff screens.

The cookie holds a random id; the row is found by that id's SHA-256
(``token_hash``) and never stores the id itself, so a copy of the table
(or a backup) cannot be replayed as a cookie. The session's data (flash
messages, the CSRF token, the pending staff sign-in step) is sealed under a
key derived from the id (:mod:`consentmgr.sessions.sealing`): the table
alone cannot read it either. ``id`` is a separate random handle for pages
and audit entries, so neither ever shows anything derived from the cookie.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from consentmgr.extensions import db
from consentmgr.sql import TZDateTime, utcnow


class SessionKind(enum.StrEnum):
    """Which cookie a session lives in: the portal's or the staff screens'."""

    PORTAL = "portal"
    STAFF = "staff"


class EndReason(enum.StrEnum):
    """Why a session ended (kept on the row until ``flask sessions purge`` deletes it)."""

    SIGNED_OUT = "signed-out"  # the user signed out, or the session was emptied
    ROTATED = "rotated"  # a sign-in replaced it with a fresh id (no fixation)
    IDLE = "idle"  # no request for longer than the idle timeout
    EXPIRED = "expired"  # past its absolute lifetime
    ENDED = "ended"  # ended from the staff sessions page (by its owner or an administrator)
    EVERYWHERE = "everywhere"  # the customer signed out everywhere
    ERASED = "erased"  # the customer was erased
    DEACTIVATED = "deactivated"  # the staff account was deactivated
    INVALID = "invalid"  # its data could not be opened (tampered or damaged)


class WebSession(db.Model):
    """A signed-in (or merely visiting) browser's session, kept on the server."""

    __tablename__ = "web_sessions"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    kind: Mapped[SessionKind] = mapped_column(
        sa.Enum(SessionKind, native_enum=False, length=8,
                values_callable=lambda e: [m.value for m in e]))
    # Who the session belongs to: none until sign-in (a visitor's CSRF token).
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    staff_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    # AES-GCM under a key derived from the cookie's id; NULL once ended.
    data: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    # Browser family and system only ("Firefox on Linux"): enough to recognise
    # a session in the list, too coarse to single anyone out. No address.
    user_agent: Mapped[str] = mapped_column(sa.String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(TZDateTime, index=True)
    ended_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)
    ended_reason: Mapped[str | None] = mapped_column(sa.String(16))

    @property
    def active(self) -> bool:
        """True until the session is ended (expiry is judged by the store, with a clock)."""
        return self.ended_at is None

    def __repr__(self) -> str:  # never the token hash
        return f"<WebSession {self.id} {self.kind}{'' if self.active else ' ended'}>"
