"""API clients (the company's other systems), their idempotency records and external refs.

An API client is a system, not a person: its name ("shop", "crm") and
scopes are not personal data. Only a SHA-256 of its key is stored; the key
itself is shown once, at creation.
"""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from consentmgr.crypto.codecs import TEXT
from consentmgr.extensions import db
from consentmgr.keys.fields import EncryptedField, EncryptedRecord
from consentmgr.sql import TZDateTime, utcnow


class ApiClient(db.Model):
    """A system allowed to call the API with a bearer key and a set of scopes."""

    __tablename__ = "api_clients"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(sa.String(100))
    # The first characters of the key, so an operator can tell keys apart in
    # lists and logs without the key being recoverable from them.
    key_prefix: Mapped[str] = mapped_column(sa.String(16), index=True)
    # Hex SHA-256 of the whole key. Keys carry 256 random bits, so a fast hash
    # is enough (nothing to brute-force) and keeps authentication cheap.
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(sa.String(128))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)
    # The highest change-feed cursor (audit sequence) this client has been
    # served by GET /events: who has been told of a rectification, erasure or
    # restriction (GDPR Art. 19). Only ever grows.
    feed_cursor: Mapped[int | None] = mapped_column(sa.BigInteger)

    @property
    def active(self) -> bool:
        """False once revoked."""
        return self.revoked_at is None

    def __repr__(self) -> str:
        return f"<ApiClient {self.id} {self.key_prefix}…>"


class IdempotencyRecord(EncryptedRecord, db.Model):
    """The first answer to a POST sent with an ``Idempotency-Key``, for replays.

    Nothing a client sent or got back is kept in clear. Keys are scoped per
    client and stored as a blind index (``key_index``): a client may well
    build its keys from its own ids. ``request_hash`` is a keyed HMAC of
    method, path and body (never the body itself). The answer's body is
    encrypted under the data key of the customer it is about
    (``customer_id``), so an erasure makes it unreadable, in backups too;
    the erasure also clears it (``response_body`` and ``location`` NULL), and
    a replay then answers that the customer was erased. Records live 24
    hours (``consentmgr.apiclients.idempotency.IDEMPOTENCY_TTL``).
    """

    __tablename__ = "api_idempotency_keys"
    __table_args__ = (sa.UniqueConstraint("client_id", "key_index"),)

    # A UUID made before the first value is encrypted: it is part of the
    # value's associated data (see consentmgr.keys.fields).
    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    client_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("api_clients.id", ondelete="CASCADE"))
    key_index: Mapped[str] = mapped_column(sa.String(80))
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    status_code: Mapped[int] = mapped_column(sa.SmallInteger)
    location: Mapped[str | None] = mapped_column(sa.String(255))
    # Whose data key encrypts the answer; None for an answer about no customer
    # (then no body is kept: a replay has the status and Location only).
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow,
                                                    index=True)

    response_body = EncryptedField(TEXT)

    def data_key_owner(self) -> tuple[uuid.UUID, bool]:
        """Encrypted under the key of the customer the answer is about."""
        self._ensure_id()
        return self.customer_id, False


class ExternalRef(EncryptedRecord, db.Model):
    """A client's own identifier for a customer (its CRM id), for upserts.

    Scoped per client: two systems may use the same reference for different
    people. A CRM id leads straight to the person in the client's system,
    so it is never stored in clear: ``ref_index`` is a blind index of the
    client's id and the reference (exact lookup), and the reference itself
    is encrypted under the customer's data key (the API gives it back in
    the customer's record), so an erasure shreds it with the rest; the
    erasure deletes the row too.
    """

    __tablename__ = "api_external_refs"
    __table_args__ = (sa.UniqueConstraint("client_id", "ref_index"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    client_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("api_clients.id", ondelete="CASCADE"))
    ref_index: Mapped[str] = mapped_column(sa.String(80))
    customer_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)

    external_ref = EncryptedField(TEXT)

    def data_key_owner(self) -> tuple[uuid.UUID, bool]:
        """Encrypted under the customer's key, so erasure covers it."""
        self._ensure_id()
        return self.customer_id, False
