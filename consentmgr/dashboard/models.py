"""Daily aggregates behind the DPO dashboard, and how far the audit trail has been counted.

One row per (metric, day, dimension): e.g. ``("consent_withdrawn", 2026-03-04,
"marketing-email") = 17``. Dimensions are purposes, request types, reason
codes, staff or API-client ids -- identifiers, never personal data. ``week``
(the Monday of ``day``) is stored too, so a period's weekly series is one
grouped, index-ordered read however many customers there are.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from consentmgr.extensions import db
from consentmgr.sql import TZDateTime


class DailyAggregate(db.Model):
    """How many times ``metric`` happened on ``day`` for ``dimension``."""

    __tablename__ = "dashboard_aggregates"

    metric: Mapped[str] = mapped_column(sa.String(48), primary_key=True)
    day: Mapped[dt.date] = mapped_column(sa.Date, primary_key=True)
    dimension: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    week: Mapped[dt.date] = mapped_column(sa.Date)
    value: Mapped[int] = mapped_column(sa.BigInteger, default=0)

    # Covering: a period's read (metric, week range) never touches the table itself.
    __table_args__ = (sa.Index("ix_dashboard_aggregates_metric_week", "metric", "week",
                               "dimension", "value"),)


class AggregateWatermark(db.Model):
    """The single row saying up to which audit sequence number the aggregates count.

    Entries get their sequence number after they commit, in order and without
    gaps (:mod:`consentmgr.audit.sequencer`), so "every sequenced entry above
    the watermark" is exactly what has not been counted yet -- an entry whose
    transaction commits late is never skipped, as it could be with insertion ids.
    """

    __tablename__ = "dashboard_watermark"
    __table_args__ = (sa.CheckConstraint("id = 1", name="dashboard_watermark_single_row"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    audit_sequence: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    refreshed_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)
