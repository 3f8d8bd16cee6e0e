"""Customer, history and portal sign-in token models. Every personal field is encrypted at rest."""

from __future__ import annotations

import datetime as dt
import enum
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from consentmgr.crypto.codecs import DATE, JSON, TEXT
from consentmgr.extensions import db
from consentmgr.keys.fields import EncryptedField, EncryptedRecord, is_new
from consentmgr.sql import TZDateTime, utcnow


class CustomerStatus(enum.StrEnum):
    """Lifecycle of a record. Restricted: kept but not processed (GDPR Art. 18)."""

    ACTIVE = "active"
    RESTRICTED = "restricted"
    ERASED = "erased"


class Customer(EncryptedRecord, db.Model):
    """A customer. Fields are encrypted under the customer's own data key."""

    __tablename__ = "customers"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    status: Mapped[CustomerStatus] = mapped_column(
        sa.Enum(CustomerStatus, native_enum=False, length=16,
                values_callable=lambda e: [m.value for m in e]),
        default=CustomerStatus.ACTIVE,
    )
    # Keyed HMAC of the normalised address: exact lookup without decrypting.
    email_index: Mapped[str | None] = mapped_column(sa.String(80), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(
        TZDateTime, default=utcnow, onupdate=utcnow
    )
    # Set by an erasure that had to keep some history for a legal obligation
    # (GDPR Art. 17(3)(b)): the record stays restricted until then, and the
    # rest is erased when the period ends.
    retained_until: Mapped[dt.datetime | None] = mapped_column(TZDateTime)

    email = EncryptedField(TEXT)
    name = EncryptedField(TEXT)
    phone = EncryptedField(TEXT)
    postal_address = EncryptedField(TEXT)
    date_of_birth = EncryptedField(DATE)
    preferences = EncryptedField(JSON)

    # View-only: history is appended through add_history (which sets the
    # owner), and rows go with the customer by ON DELETE CASCADE. Keeping
    # the collection out of the unit of work makes bulk flushes cheaper.
    history: Mapped[list[HistoryEntry]] = relationship(
        order_by="HistoryEntry.occurred_at.desc()", viewonly=True,
    )

    PERSONAL_FIELDS = ("email", "name", "phone", "postal_address", "date_of_birth", "preferences")
    data_key_owner_column = "id"  # each customer owns their key

    def data_key_owner(self) -> tuple[uuid.UUID, bool]:
        """A customer's fields are encrypted under their own key."""
        return self._ensure_id(), is_new(self)

    def __repr__(self) -> str:  # never show personal data, even in a debugger
        return f"<Customer {self.id} {self.status}>"


class HistoryEntry(EncryptedRecord, db.Model):
    """One interaction with a customer; summary and details are encrypted."""

    __tablename__ = "history_entries"
    # The retention purge's batches: one category, oldest first (migration 0017).
    __table_args__ = (sa.Index("ix_history_entries_category_occurred", "data_category",
                               "occurred_at"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    customer_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    occurred_at: Mapped[dt.datetime] = mapped_column(TZDateTime, index=True)
    channel: Mapped[str] = mapped_column(sa.String(32))
    kind: Mapped[str] = mapped_column(sa.String(32))
    data_category: Mapped[str] = mapped_column(sa.String(64), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)

    summary = EncryptedField(TEXT)
    details = EncryptedField(JSON)

    customer: Mapped[Customer] = relationship()

    def data_key_owner(self) -> tuple[uuid.UUID, bool]:
        """History is encrypted under its customer's key, so erasure covers it."""
        self._ensure_id()
        customer = self.__dict__.get("customer")
        if customer is not None:
            return customer._ensure_id(), is_new(customer)
        return self.customer_id, False

    def __repr__(self) -> str:
        return f"<HistoryEntry {self.id} {self.kind}>"


class PortalSignInToken(db.Model):
    """One portal sign-in link: the hash of its token, whose it is, and when it was used.

    A request for an address that is no customer's writes a row too, with no
    customer (``customer_id`` NULL): a decoy that no link points to and that
    can never sign anyone in. It makes a request for an unknown address do
    the same database work as one for a customer, so neither the statements
    nor the time they take tell whether an address is known.
    """

    __tablename__ = "portal_sign_in_tokens"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    # SHA-256 (hex) of the token; the token itself exists only in the mailed link.
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
    # Indexed: every request purges the rows that expired a while ago.
    expires_at: Mapped[dt.datetime] = mapped_column(TZDateTime, index=True)
    used_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)

    def __repr__(self) -> str:
        return f"<PortalSignInToken {self.id} used={self.used_at is not None}>"


class PortalEmailChange(EncryptedRecord, db.Model):
    """A change of email address asked for in the portal, waiting for the new address to confirm.

    The new address is encrypted under the customer's own data key (so an
    erasure shreds it with the rest); the link's token is kept only as its
    SHA-256. Once confirmed the row keeps no address, only when it was used,
    so a second click gets "already used".
    """

    __tablename__ = "portal_email_changes"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    customer_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(TZDateTime, index=True)
    used_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)

    new_email = EncryptedField(TEXT)

    def data_key_owner(self) -> tuple[uuid.UUID, bool]:
        """Encrypted under the customer's key, so erasure covers it."""
        self._ensure_id()
        return self.customer_id, False

    def __repr__(self) -> str:
        return f"<PortalEmailChange {self.id} used={self.used_at is not None}>"
