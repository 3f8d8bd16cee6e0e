"""The ``jobs`` and ``job_schedules`` tables.

A job's ``payload`` holds ids only (UUIDs, numbers, flags): never a name,
an address or any other personal data, which would then sit in the table,
its backups and its logs in the clear. :func:`consentmgr.jobs.queue.enqueue`
refuses anything else. ``last_error`` keeps the exception's type name, never
its message, for the same reason.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from consentmgr.extensions import db
from consentmgr.sql import TZDateTime, utcnow


class Job(db.Model):
    """One piece of background work: pending, leased to a worker, done, or failed for good."""

    __tablename__ = "jobs"
    # Only open jobs are looked for: done and failed ones stay out of the index.
    __table_args__ = (
        sa.Index("ix_jobs_open_run_after", "run_after",
                 postgresql_where=sa.text("finished_at IS NULL AND failed_at IS NULL"),
                 sqlite_where=sa.text("finished_at IS NULL AND failed_at IS NULL")),
        sa.Index("ix_jobs_finished_at", "finished_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(sa.String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    # Not before this time: the first run, or the next try after a failure (backoff).
    run_after: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(sa.Integer, default=5)
    # The lease: the worker running the job, until when. A worker killed
    # mid-job leaves its lease to expire, and the job is claimed again.
    claimed_by: Mapped[str | None] = mapped_column(sa.String(64))
    claimed_until: Mapped[dt.datetime | None] = mapped_column(TZDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)
    # Set when the last allowed attempt failed: the job stays, visible, and is not tried again.
    failed_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)
    last_error: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)

    @property
    def state(self) -> str:
        """``done``, ``failed``, ``running`` (leased) or ``pending``."""
        if self.finished_at is not None:
            return "done"
        if self.failed_at is not None:
            return "failed"
        return "running" if self.claimed_by else "pending"

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.kind} {self.state}>"


class JobSchedule(db.Model):
    """When a periodic job is next due: claimed by one worker per interval, across all workers."""

    __tablename__ = "job_schedules"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    next_run_at: Mapped[dt.datetime] = mapped_column(TZDateTime)
    last_run_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)
