"""Wrapped data keys. Lives under the ``keys`` bind (its own database if configured)."""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from consentmgr.extensions import KEYS_BIND, db
from consentmgr.keys.types import Ciphertext
from consentmgr.sql import TZDateTime, utcnow


class DataKey(db.Model):
    """One version of one customer's data key, wrapped by a master key.

    ``wrapped`` is cleared (and ``destroyed_at`` set) when the customer is
    erased: without it, their fields cannot be decrypted even from backups
    of the main database (crypto-shredding).
    """

    __tablename__ = "data_keys"
    __bind_key__ = KEYS_BIND

    owner_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    version: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    master_key_id: Mapped[str] = mapped_column(sa.String(32), index=True)
    wrapped: Mapped[bytes | None] = mapped_column(Ciphertext)
    created_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
    destroyed_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)
