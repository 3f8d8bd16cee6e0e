"""The ``webhook_subscriptions``, ``webhook_deliveries`` and ``webhook_cursor`` tables.

A subscription's secret (and, for a day after a rotation, the previous
one) is encrypted under the subscription's own data key, like a staff
member's TOTP secret: a copy of the database cannot sign a webhook, and
deleting the subscription destroys the key. A delivery's ``payload`` holds
what the change feed holds -- ids, purpose slugs, statuses, versions -- and
never a name, an address or any other personal data.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from consentmgr.crypto.codecs import TEXT
from consentmgr.extensions import db
from consentmgr.keys.fields import EncryptedField, EncryptedRecord, is_new
from consentmgr.sql import TZDateTime, utcnow

MAX_URL = 2000


class WebhookSubscription(EncryptedRecord, db.Model):
    """An API client's endpoint and the event types it is sent."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    client_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("api_clients.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(sa.String(MAX_URL))
    event_types: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
    # After a rotation the old secret signs too, until then (receivers switch over).
    previous_secret_until: Mapped[dt.datetime | None] = mapped_column(TZDateTime)

    secret = EncryptedField(TEXT)
    previous_secret = EncryptedField(TEXT)
    data_key_owner_column = "id"  # each subscription owns its key

    def data_key_owner(self) -> tuple[uuid.UUID, bool]:
        """A subscription's secrets are encrypted under its own data key."""
        return self._ensure_id(), is_new(self)

    def signing_secrets(self, now: dt.datetime) -> list[str]:
        """The secrets that sign a message sent at ``now``: the current one, then the previous."""
        found = [self.secret]
        if self.previous_secret_until is not None and now < self.previous_secret_until:
            previous = self.previous_secret
            if previous:
                found.append(previous)
        return found

    def __repr__(self) -> str:  # never the secret
        return f"<WebhookSubscription {self.id}{'' if self.active else ' inactive'}>"


class WebhookDelivery(db.Model):
    """One event for one subscription: pending, being sent, delivered, or dead-lettered."""

    __tablename__ = "webhook_deliveries"
    # Only deliveries still to send are looked for.
    __table_args__ = (
        sa.Index("ix_webhook_deliveries_due", "next_attempt_at",
                 postgresql_where=sa.text("delivered_at IS NULL AND dead_at IS NULL"),
                 sqlite_where=sa.text("delivered_at IS NULL AND dead_at IS NULL")),
    )

    # The message id (``webhook-id``): the same on every attempt, so receivers deduplicate.
    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    subscription_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"), index=True)
    event_type: Mapped[str] = mapped_column(sa.String(64))
    # The audit sequence the event came from (the change feed's cursor).
    cursor: Mapped[int] = mapped_column(sa.BigInteger)
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    created_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
    # Retries run for a day from here (the creation, or the last redelivery).
    retry_from: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    # The lease of the worker sending it now; a killed worker's lease runs out.
    claimed_until: Mapped[dt.datetime | None] = mapped_column(TZDateTime)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)
    dead_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)
    # The receiver's last HTTP status, or the error's type name (never its message).
    last_status: Mapped[int | None] = mapped_column(sa.Integer)
    last_error: Mapped[str | None] = mapped_column(sa.String(64))

    @property
    def state(self) -> str:
        """``delivered``, ``dead`` or ``pending``."""
        if self.delivered_at is not None:
            return "delivered"
        return "dead" if self.dead_at is not None else "pending"

    def __repr__(self) -> str:
        return f"<WebhookDelivery {self.id} {self.event_type} {self.state}>"


class WebhookCursor(db.Model):
    """How far into the change feed deliveries have been written (one row)."""

    __tablename__ = "webhook_cursor"

    name: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    position: Mapped[int] = mapped_column(sa.BigInteger, default=0)
