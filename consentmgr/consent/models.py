"""Consent events (append-only) and the consent state derived from them.

GDPR Art. 7(1): the controller must be able to demonstrate consent. Each
event keeps what the customer was shown (policy version, the language and
the notice hash of the purpose in that language), how (channel), who acted, when, and the evidence.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from consentmgr.crypto.codecs import TEXT
from consentmgr.customers.models import Customer
from consentmgr.extensions import db
from consentmgr.keys.fields import EncryptedField, EncryptedRecord
from consentmgr.sql import TZDateTime, utcnow


class ConsentAction(enum.StrEnum):
    """What a customer (or someone for them) did."""

    GRANTED = "granted"
    WITHDRAWN = "withdrawn"
    REFUSED = "refused"  # an opt-out with nothing to withdraw (e.g. a GPC signal)
    OBJECTED = "objected"  # GDPR Art. 21, for legitimate-interest purposes


class ConsentStatus(enum.StrEnum):
    """Statuses named after the W3C Data Privacy Vocabulary (dpv:ConsentStatus)."""

    GIVEN = "given"
    WITHDRAWN = "withdrawn"
    REFUSED = "refused"
    EXPIRED = "expired"
    RENEWAL_REQUIRED = "renewal-required"
    OBJECTED = "objected"
    NOT_GIVEN = "not-given"  # no event yet: privacy by default
    NOT_REQUIRED = "not-required"  # contract or legal obligation: consent is not the basis


STATUS_AFTER = {
    ConsentAction.GRANTED: ConsentStatus.GIVEN,
    ConsentAction.WITHDRAWN: ConsentStatus.WITHDRAWN,
    ConsentAction.REFUSED: ConsentStatus.REFUSED,
    ConsentAction.OBJECTED: ConsentStatus.OBJECTED,
}


class Channel(enum.StrEnum):
    """How the choice reached us."""

    PORTAL = "portal"
    STAFF = "staff"
    API = "api"
    IMPORT = "import"
    # A one-click unsubscribe link in a mail (RFC 8058; consentmgr/consent/unsubscribe.py).
    # Stored as text in a 16-character column without a CHECK constraint: no migration.
    EMAIL = "email"


def _enum(kind: type[enum.Enum], length: int = 32) -> sa.Enum:
    return sa.Enum(kind, native_enum=False, length=length,
                   values_callable=lambda e: [m.value for m in e])


class ConsentEvent(EncryptedRecord, db.Model):
    """One grant, withdrawal, refusal or objection. Never updated or deleted.

    ``audit_entry_id`` is the insertion id of the audit entry written in the
    same transaction. The ledger takes the consent state's row lock before
    writing that entry, so for one customer and purpose the ids follow the
    order in which the choices committed.
    """

    __tablename__ = "consent_events"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    customer_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("customers.id", ondelete="CASCADE")
    )
    purpose: Mapped[str] = mapped_column(sa.String(64))
    action: Mapped[ConsentAction] = mapped_column(_enum(ConsentAction, 16))
    status: Mapped[ConsentStatus] = mapped_column(_enum(ConsentStatus))
    policy_version: Mapped[str] = mapped_column(sa.String(64))
    notice_hash: Mapped[str] = mapped_column(sa.String(64))
    # The language of the notice shown (GDPR Art. 12(1)); ``notice_hash`` is
    # that language's hash of it. Events before languages existed are "en".
    language: Mapped[str] = mapped_column(sa.String(8), default="en", server_default="en")
    channel: Mapped[Channel] = mapped_column(_enum(Channel, 16))
    actor_type: Mapped[str] = mapped_column(sa.String(16))
    actor_id: Mapped[str] = mapped_column(sa.String(64))
    occurred_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
    # When the choice was made, if collected elsewhere before reaching us.
    collected_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)
    gpc: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    # Client details only as keyed hashes (never the address or user agent).
    evidence: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    audit_entry_id: Mapped[int] = mapped_column(sa.BigInteger, sa.ForeignKey("audit_entries.id"),
                                                unique=True)
    #: Not stored: the change-feed cursor of a just-recorded event where it is
    #: known at once (SQLite); None where the sequencer places it after commit.
    feed_cursor = None

    # A free-text evidence note (e.g. "phone call, ticket 4711") may name
    # people, so it is encrypted under the customer's key like their fields.
    note = EncryptedField(TEXT)

    customer: Mapped[Customer] = relationship()

    __table_args__ = (sa.Index("ix_consent_events_customer_purpose", "customer_id", "purpose"),)

    def data_key_owner(self) -> tuple[uuid.UUID, bool]:
        """Encrypted under the customer's key, so erasure covers the note."""
        self._ensure_id()
        customer = self.__dict__.get("customer")
        if customer is not None:
            return customer._ensure_id(), customer._sa_instance_state.key is None
        return self.customer_id, False


class ConsentState(db.Model):
    """The latest event per customer and purpose: what the fast check reads."""

    __tablename__ = "consent_states"

    customer_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    purpose: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    status: Mapped[ConsentStatus] = mapped_column(_enum(ConsentStatus))
    policy_version: Mapped[str] = mapped_column(sa.String(64))
    notice_hash: Mapped[str] = mapped_column(sa.String(64))
    event_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    updated_at: Mapped[dt.datetime] = mapped_column(TZDateTime)
    # When a consent given under a purpose with ``valid_for_days`` lapses. The
    # check compares it with the clock, so expiry needs no write (expiry.py).
    expires_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)
    # When the renewal reminder for this grant was queued: at most one per grant
    # (every new choice rewrites the row and clears it).
    reminded_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)

    __table_args__ = (sa.Index("ix_consent_states_expires_at", "expires_at"),)


class LedgerIsAppendOnly(RuntimeError):
    """Code tried to change or delete a consent event: a programming error."""


@sa.event.listens_for(ConsentEvent, "before_update")
@sa.event.listens_for(ConsentEvent, "before_delete")
def _refuse_changes(mapper: Any, connection: Any, target: Any) -> None:
    raise LedgerIsAppendOnly("consent events are append-only")
