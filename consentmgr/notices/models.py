"""The ``policy_notices`` table: who was told of which policy version's material change.

One row per version and customer (ids and a time only, no personal data):
its primary key is what makes "never twice for the same version" hold,
across batches, killed workers, reruns and ``flask policies notify``. A row
is written in the same unit of work as the sealed message it stands for
(:mod:`consentmgr.notices.services`), so a message exists exactly when its
row does. ``mailed`` is false for a customer selected but unreachable (no
address): handled, so the batches after it go on, and counted apart.
"""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from consentmgr.extensions import db
from consentmgr.sql import TZDateTime, utcnow


class PolicyNotice(db.Model):
    """A customer handled for one version's notice (ids only)."""

    __tablename__ = "policy_notices"

    policy_version_id: Mapped[int] = mapped_column(
        sa.ForeignKey("policy_versions.id", ondelete="RESTRICT"), primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True, index=True)
    mailed: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    notified_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<PolicyNotice version {self.policy_version_id} customer {self.customer_id}>"
