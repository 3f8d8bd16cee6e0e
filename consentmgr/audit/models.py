"""Audit trail tables: append-only entries, the chain head, signed checkpoints.

Entries hold identifiers and field *names* only, never personal values, so
the trail can be kept (GDPR Art. 5(2), accountability) and shown to the DPO
without widening who sees customer data. On PostgreSQL a trigger rejects
UPDATE and DELETE of entries and checkpoints (see migration 0003).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from consentmgr.extensions import db
from consentmgr.sql import TZDateTime

GENESIS_HASH = "0" * 64  # the "previous hash" of entry 1


class AuditEntry(db.Model):
    """One audited action, linked to the previous entry by ``prev_hash``.

    ``id`` is the insertion id, given when the entry is written, with no lock
    shared by writers. ``sequence``, ``prev_hash`` and ``hash`` are its place
    in the chain: set inline on SQLite, by the sequencer after commit on
    PostgreSQL (:mod:`consentmgr.audit.sequencer`), and then never changed.
    ``hash`` is SHA-256 over the canonical encoding of every column below
    but ``id`` (see :func:`consentmgr.audit.chain.entry_hash`). ``sequence``
    is gap-free and starts at 1.
    """

    __tablename__ = "audit_entries"
    __table_args__ = (
        # The sequencer's queue: small, because entries leave it within a second.
        sa.Index("ix_audit_entries_unsequenced", "id", postgresql_where=sa.text("sequence IS NULL"),
                 sqlite_where=sa.text("sequence IS NULL")),
        # A customer's entries newest first, in index order (migration 0016).
        sa.Index("ix_audit_entries_subject_newest", "subject_id", "id"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                                    primary_key=True, autoincrement=True)
    sequence: Mapped[int | None] = mapped_column(sa.BigInteger, unique=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(TZDateTime, index=True)
    actor_type: Mapped[str] = mapped_column(sa.String(16))
    actor_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    actor_role: Mapped[str | None] = mapped_column(sa.String(32))
    action: Mapped[str] = mapped_column(sa.String(64), index=True)
    outcome: Mapped[str] = mapped_column(sa.String(16))
    subject_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    fields: Mapped[list[str]] = mapped_column(sa.JSON)
    reason_code: Mapped[str | None] = mapped_column(sa.String(32))
    justification: Mapped[str | None] = mapped_column(sa.Text)
    request_id: Mapped[str | None] = mapped_column(sa.String(64))
    # Keyed hash of the client address ("keyid:hex"): lets the DPO see that two
    # entries came from one address without the trail holding the address.
    client_hash: Mapped[str | None] = mapped_column(sa.String(100))
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    prev_hash: Mapped[str | None] = mapped_column(sa.String(64))
    hash: Mapped[str | None] = mapped_column(sa.String(64))

    @property
    def occurred_at_utc(self) -> dt.datetime:
        """``occurred_at``, aware UTC (as :class:`~consentmgr.sql.TZDateTime` reads it back)."""
        return self.occurred_at

    @property
    def actor(self) -> str:
        """``type:id`` of the actor, as :class:`~consentmgr.actors.Actor` prints it."""
        return f"{self.actor_type}:{self.actor_id}"

    def as_record(self) -> dict[str, Any]:
        """The entry as plain values (for CSV or JSON export): ISO times, string ids."""
        return {
            "sequence": self.sequence,
            "occurred_at": self.occurred_at_utc.isoformat(),
            "actor_type": self.actor_type,
            "actor_id": self.actor_id,
            "actor_role": self.actor_role,
            "action": self.action,
            "outcome": self.outcome,
            "subject_id": str(self.subject_id) if self.subject_id else None,
            "fields": list(self.fields or []),
            "reason_code": self.reason_code,
            "justification": self.justification,
            "request_id": self.request_id,
            "client_hash": self.client_hash,
            "details": dict(self.details or {}),
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }

    def __repr__(self) -> str:
        return f"<AuditEntry {self.sequence} {self.action} {self.outcome}>"


class AuditHead(db.Model):
    """The single row naming the last entry of the chain.

    Appending starts by updating this row, which takes its write lock before
    the head is read: two transactions can never extend the same head, so
    the chain never forks and sequences have no gaps.
    """

    __tablename__ = "audit_head"
    __table_args__ = (sa.CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    sequence: Mapped[int] = mapped_column(sa.BigInteger)
    hash: Mapped[str] = mapped_column(sa.String(64))


class AuditCheckpoint(db.Model):
    """A signed statement "entry ``sequence`` has hash ``head_hash``".

    ``jws`` is the compact JWS (EdDSA) over the checkpoint; the same document
    should also be stored off the box (``flask audit checkpoint --output``),
    where an attacker with database access cannot remove it.
    """

    __tablename__ = "audit_checkpoints"

    sequence: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    head_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(TZDateTime)
    key_id: Mapped[str] = mapped_column(sa.String(64))
    jws: Mapped[str] = mapped_column(sa.Text)

    def __repr__(self) -> str:
        return f"<AuditCheckpoint {self.sequence} {self.key_id}>"
