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

from consentmgr.extensions import db
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


class IdempotencyRecord(db.Model):
    """The first answer to a POST sent with an ``Idempotency-Key``, for replays.

    Keys are scoped per client. ``request_hash`` is a keyed HMAC of method,
    path and body (never the body itself), and the stored response bodies
    carry no personal data: POST answers hold ids and statuses only.
    """

    __tablename__ = "api_idempotency_keys"
    __table_args__ = (sa.UniqueConstraint("client_id", "key"),)

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"),
                                    primary_key=True)
    client_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("api_clients.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(sa.String(255))
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    status_code: Mapped[int] = mapped_column(sa.SmallInteger)
    response_body: Mapped[str] = mapped_column(sa.Text)
    location: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow,
                                                    index=True)


class ExternalRef(db.Model):
    """A client's own identifier for a customer (its CRM id), for upserts.

    Scoped per client: two systems may use the same reference for different
    people. The reference is an opaque id of the client's, not a personal
    detail such as an email address.
    """

    __tablename__ = "api_external_refs"
    __table_args__ = (sa.UniqueConstraint("client_id", "external_ref"),)

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"),
                                    primary_key=True)
    client_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("api_clients.id", ondelete="CASCADE"))
    external_ref: Mapped[str] = mapped_column(sa.String(128))
    customer_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
