"""Wrapped data keys and the record of their rotation and retirement.

Everything here lives under the ``keys`` bind (its own database if configured).
"""

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


class DataKeyRotation(db.Model):
    """One run of ``flask keys rotate-data``: each owner's key replaced by one made after its start.

    An owner is done when their newest live key was created at or after
    ``started_at`` and it is their only live one. A run interrupted (even
    by ``kill -9``) stays unfinished, and the next ``rotate-data`` resumes
    it with the same ``started_at`` instead of starting over.
    """

    __tablename__ = "data_key_rotations"
    __bind_key__ = KEYS_BIND

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    started_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)


class RetiredMasterKey(db.Model):
    """A master key id that ``flask keys retire-master`` found unused and retired.

    Kept next to the data keys so ``keys status`` can warn while a retired
    key is still configured (it should be removed from the configuration).
    """

    __tablename__ = "retired_master_keys"
    __bind_key__ = KEYS_BIND

    master_key_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    retired_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
