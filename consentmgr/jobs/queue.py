"""The queue: enqueue a job in the caller's unit of work, claim it under a lease, settle it.

Every function flushes and never commits: enqueueing belongs to the caller's
transaction (a job for a change rolled back is never run), and the worker
(:mod:`consentmgr.jobs.runner`) wraps each claim and each run in its own
unit of work.

Claiming is safe with any number of workers. On PostgreSQL the due row is
locked with ``SELECT ... FOR UPDATE SKIP LOCKED``, so concurrent workers
pass over each other's rows instead of waiting; on SQLite (one writer at a
time) a conditional ``UPDATE`` takes the row only if it is still free. A
claim sets a lease (``claimed_until``); a worker killed mid-job leaves the
lease to run out, and the job is claimed again.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, Mapping

import sqlalchemy as sa
from sqlalchemy.orm import Session

from consentmgr.jobs.models import Job
from consentmgr.sql import as_uuid

DEFAULT_MAX_ATTEMPTS = 5
MAX_BACKOFF = dt.timedelta(hours=1)
# What a job whose worker died on its last allowed attempt is marked with.
LEASE_EXPIRED = "LeaseExpired"
_TABLE = Job.__table__


class PayloadNotDataFree(ValueError):
    """A job payload held something other than ids, numbers and flags."""


class LeaseLost(RuntimeError):
    """The worker's lease on a job ran out and the job is no longer its to finish."""


@dataclass(frozen=True)
class Claim:
    """A job leased to one worker for one attempt (plain values: it outlives the claiming commit)."""

    id: uuid.UUID
    kind: str
    payload: Mapping[str, Any]
    attempt: int
    max_attempts: int
    worker: str


def _data_free(payload: Mapping[str, Any]) -> dict[str, Any]:
    # Ids only: a payload is stored, retried and logged by nothing that could
    # encrypt it, so personal data must never enter it (DESIGN.md: none at rest
    # in the clear). A UUID string passes; free text, even a short one, does not.
    clean: dict[str, Any] = {}
    for name, value in payload.items():
        if not isinstance(name, str):
            raise PayloadNotDataFree("payload keys must be strings")
        if value is None or isinstance(value, (bool, int)):
            clean[name] = value
        elif isinstance(value, (uuid.UUID, str)) and as_uuid(value) is not None:
            clean[name] = str(as_uuid(value))
        else:
            raise PayloadNotDataFree(f"payload {name!r} must be an id, a number or a flag")
    return clean


def enqueue(session: Session, kind: str, payload: Mapping[str, Any] | None = None, *,
            now: dt.datetime, delay: dt.timedelta = dt.timedelta(0),
            max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> Job:
    """Add a job to the caller's unit of work; it runs once that commits. Flushes."""
    job = Job(id=uuid.uuid4(), kind=kind, payload=_data_free(payload or {}), run_after=now + delay,
              attempts=0, max_attempts=max_attempts, created_at=now)
    session.add(job)
    session.flush()
    return job


def _due(now: dt.datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        _TABLE.c.finished_at.is_(None),
        _TABLE.c.failed_at.is_(None),
        _TABLE.c.run_after <= now,
        _TABLE.c.attempts < _TABLE.c.max_attempts,
        sa.or_(_TABLE.c.claimed_until.is_(None), _TABLE.c.claimed_until < now),
    )


def claim_next(session: Session, *, worker: str, now: dt.datetime,
               lease: dt.timedelta) -> Claim | None:
    """Lease the next due job to ``worker``, or None when nothing is due. Flushes."""
    session.flush()
    postgresql = session.get_bind(clause=_TABLE).dialect.name == "postgresql"
    candidates = sa.select(_TABLE.c.id).where(_due(now)).order_by(_TABLE.c.run_after)
    if postgresql:
        candidates = candidates.limit(1).with_for_update(skip_locked=True)
    else:
        candidates = candidates.limit(8)
    for job_id in session.scalars(candidates).all():
        # On PostgreSQL the row is locked already; on SQLite the WHERE is the lock.
        taken = session.execute(
            sa.update(_TABLE).where(_TABLE.c.id == job_id, _due(now))
            .values(claimed_by=worker, claimed_until=now + lease, attempts=_TABLE.c.attempts + 1)
            .returning(_TABLE.c.kind, _TABLE.c.payload, _TABLE.c.attempts, _TABLE.c.max_attempts),
            execution_options={"synchronize_session": False}).first()
        if taken is not None:
            return Claim(id=job_id, kind=taken.kind, payload=dict(taken.payload or {}),
                         attempt=taken.attempts, max_attempts=taken.max_attempts, worker=worker)
    return None


def _held(claim: Claim) -> sa.ColumnElement[bool]:
    return sa.and_(_TABLE.c.id == claim.id, _TABLE.c.claimed_by == claim.worker,
                   _TABLE.c.attempts == claim.attempt, _TABLE.c.finished_at.is_(None),
                   _TABLE.c.failed_at.is_(None))


def finish(session: Session, claim: Claim, *, now: dt.datetime) -> None:
    """Mark the job done, in the same unit of work as its effects.

    Raises :class:`LeaseLost` when the lease has passed to another worker,
    so the caller rolls the effects back and the job's writes commit once.
    """
    done = session.execute(
        sa.update(_TABLE).where(_held(claim))
        .values(finished_at=now, claimed_by=None, claimed_until=None, last_error=None),
        execution_options={"synchronize_session": False})
    if done.rowcount != 1:
        raise LeaseLost(str(claim.id))


def backoff(attempt: int, base: dt.timedelta) -> dt.timedelta:
    """The wait before the try after ``attempt``: ``base`` doubled per attempt, at most an hour."""
    return min(base * (2 ** max(attempt - 1, 0)), MAX_BACKOFF)


def record_failure(session: Session, claim: Claim, error: str, *, now: dt.datetime,
                   retry_base: dt.timedelta) -> str:
    """Schedule the next try after a backoff, or fail the job for good after its last attempt.

    ``error`` is an exception's type name (never its message: it may carry
    data). Returns ``retry``, ``failed``, or ``lost`` when the lease is gone.
    """
    last = claim.attempt >= claim.max_attempts
    values: dict[str, Any] = {"claimed_by": None, "claimed_until": None, "last_error": error[:64]}
    if last:
        values["failed_at"] = now
    else:
        values["run_after"] = now + backoff(claim.attempt, retry_base)
    settled = session.execute(sa.update(_TABLE).where(_held(claim)).values(**values),
                              execution_options={"synchronize_session": False})
    if settled.rowcount != 1:
        return "lost"
    return "failed" if last else "retry"


def fail_abandoned(session: Session, *, now: dt.datetime) -> int:
    """Fail the jobs whose worker died during their last allowed attempt; returns how many."""
    result = session.execute(
        sa.update(_TABLE).where(
            _TABLE.c.finished_at.is_(None), _TABLE.c.failed_at.is_(None),
            _TABLE.c.claimed_until < now, _TABLE.c.attempts >= _TABLE.c.max_attempts)
        .values(failed_at=now, claimed_by=None, claimed_until=None, last_error=LEASE_EXPIRED),
        execution_options={"synchronize_session": False})
    return int(result.rowcount or 0)


def purge_settled(session: Session, *, now: dt.datetime, keep_done: dt.timedelta,
                  keep_failed: dt.timedelta) -> int:
    """Delete done jobs older than ``keep_done`` and failed ones older than ``keep_failed``."""
    result = session.execute(
        sa.delete(_TABLE).where(sa.or_(_TABLE.c.finished_at < now - keep_done,
                                       _TABLE.c.failed_at < now - keep_failed)),
        execution_options={"synchronize_session": False})
    return int(result.rowcount or 0)
