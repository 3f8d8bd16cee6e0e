"""Periodic jobs: each due at most once per interval across every worker.

One ``job_schedules`` row per schedule name holds when it is next due. A
worker that finds it due moves ``next_run_at`` on with a conditional
``UPDATE ... WHERE next_run_at <= now``: of two workers racing, the second
finds the condition false (on PostgreSQL it waits for the first's row lock
and then re-reads the row), so exactly one enqueues the run. The run itself
is an ordinary job, with the queue's lease and retries.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from consentmgr.jobs.models import JobSchedule
from consentmgr.sql import upsert

_TABLE = JobSchedule.__table__


def claim_due(session: Session, name: str, *, every: dt.timedelta, now: dt.datetime) -> bool:
    """True when schedule ``name`` was due and this caller now owns its run. Flushes.

    A schedule never seen before is due at once; the next run is ``every``
    after this one (missed intervals are not caught up one by one).
    """
    upsert(session, _TABLE, {"name": name, "next_run_at": now}, key=["name"], update=[])
    claimed = session.execute(
        sa.update(_TABLE).where(_TABLE.c.name == name, _TABLE.c.next_run_at <= now)
        .values(next_run_at=now + every, last_run_at=now),
        execution_options={"synchronize_session": False})
    return claimed.rowcount == 1
