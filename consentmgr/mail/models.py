"""The ``mail_outbox`` table: messages committed with their request, waiting for a worker.

One row per message, sealed (:mod:`consentmgr.mail.sealing`): no address,
subject or link is readable in the table or its backups. Its delivery is an
ordinary job (``job_id``): the job row holds the state, attempts, next try
and last error type. The row is deleted when the message is delivered, and
an undeliverable one when its job fails for good, so links do not linger.
"""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from consentmgr.extensions import db
from consentmgr.sql import TZDateTime


class OutboxMessage(db.Model):
    """One sealed message and the job that delivers it."""

    __tablename__ = "mail_outbox"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    job_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    created_at: Mapped[dt.datetime] = mapped_column(TZDateTime)
    master_key_id: Mapped[str] = mapped_column(sa.String(32))
    wrapped_key: Mapped[bytes] = mapped_column(sa.LargeBinary)
    sealed: Mapped[bytes] = mapped_column(sa.LargeBinary)

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id}>"
