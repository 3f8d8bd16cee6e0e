"""Reading the audit trail: one customer's entries, the DPO's search, the change feed.

Other areas read the trail only through these functions; none of them
queries :class:`~consentmgr.audit.models.AuditEntry` itself.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Sequence

import sqlalchemy as sa

from consentmgr.audit import actions as names
from consentmgr.audit.models import AuditEntry
from consentmgr.errors import ValidationFailed
from consentmgr.extensions import db
from consentmgr.sql import as_uuid

MAX_SEARCH_LIMIT = 1000
MAX_FEED_LIMIT = 1000


def _subject(customer_id: uuid.UUID | str, name: str = "subject_id") -> uuid.UUID:
    key = as_uuid(customer_id)
    if key is None:
        raise ValidationFailed({name: ["Enter a customer id (a UUID)."]})
    return key


def entries_for_customer(
    customer_id: uuid.UUID | str, *, actions: Sequence[str] | None = None,
    outcome: str | None = None, before: int | None = None, limit: int | None = None,
) -> list[AuditEntry]:
    """Entries about one customer, newest first; only ``actions`` (and ``outcome``) if given.

    ``before`` (an entry id) and ``limit`` page through them: the next page
    starts before the last id of this one.

    For the portal's "Who has accessed my data" page pass
    :data:`consentmgr.audit.actions.STAFF_ACCESS_ACTIONS` (GDPR Art. 15
    transparency about who processed the data). Resolve ``actor_id`` to a
    staff display name through the staff table; the trail holds ids only.
    """
    query = sa.select(AuditEntry).where(AuditEntry.subject_id == _subject(customer_id, "customer_id"))
    if actions is not None:
        query = query.where(AuditEntry.action.in_(list(actions)))
    if outcome is not None:
        query = query.where(AuditEntry.outcome == outcome)
    if before is not None:
        query = query.where(AuditEntry.id < before)
    # Insertion order: an entry waiting for its sequence number is listed too.
    return list(db.session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit)))


def _search_filters(*, actor_id: str | None, subject_id: uuid.UUID | str | None,
                    action: str | None, since: dt.date | None,
                    until: dt.date | None) -> list[sa.ColumnElement[bool]]:
    filters: list[sa.ColumnElement[bool]] = []
    if actor_id:
        filters.append(AuditEntry.actor_id == actor_id)
    if subject_id:
        filters.append(AuditEntry.subject_id == _subject(subject_id))
    if action:
        if action.endswith("*"):
            prefix = action[:-1].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            filters.append(AuditEntry.action.like(prefix + "%", escape="\\"))
        else:
            filters.append(AuditEntry.action == action)
    if since and until and since > until:
        raise ValidationFailed({"until": ["The end date must not be before the start date."]})
    # Dates are whole UTC days, both ends included.
    if since:
        filters.append(AuditEntry.occurred_at >= _day_start(since))
    if until:
        filters.append(AuditEntry.occurred_at < _day_start(until + dt.timedelta(days=1)))
    return filters


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.timezone.utc)


def search_entries(
    *,
    actor_id: str | None = None,
    subject_id: uuid.UUID | str | None = None,
    action: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[AuditEntry]:
    """Entries matching every given filter, newest first (the DPO's audit browser).

    ``action`` is an exact name, or a prefix ending in ``*`` (``"request.*"``);
    ``since``/``until`` are UTC dates, both included. Raises
    :class:`~consentmgr.errors.ValidationFailed` for a malformed subject id,
    an end before the start, or a limit outside 1..1000.
    """
    if not 1 <= limit <= MAX_SEARCH_LIMIT:
        raise ValidationFailed({"limit": [f"Show between 1 and {MAX_SEARCH_LIMIT} entries."]})
    if offset < 0:
        raise ValidationFailed({"offset": ["The offset cannot be negative."]})
    filters = _search_filters(actor_id=actor_id, subject_id=subject_id, action=action,
                              since=since, until=until)
    query = (sa.select(AuditEntry).where(*filters).order_by(AuditEntry.id.desc())
             .limit(limit).offset(offset))
    return list(db.session.scalars(query))


def count_entries(
    *,
    actor_id: str | None = None,
    subject_id: uuid.UUID | str | None = None,
    action: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> int:
    """How many entries :func:`search_entries` would page through with these filters."""
    filters = _search_filters(actor_id=actor_id, subject_id=subject_id, action=action,
                              since=since, until=until)
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(*filters))


def feed_entries(
    after: int = 0, limit: int = 100, actions: Sequence[str] = names.FEED_ACTIONS
) -> list[AuditEntry]:
    """Successful entries of ``actions`` with a sequence above ``after``, oldest first.

    What the change feed (``GET /api/v1/events``) is built from: the
    sequence is its cursor. Sequence numbers are given by one sequencer and
    commit in order (inline on SQLite, whose writes are serialised), so a
    reader polling with its last cursor never misses an entry numbered
    later. An entry appears here once sequenced, within
    ``AUDIT_SEQUENCE_DELAY_SECONDS`` of its commit.
    """
    if not 1 <= limit <= MAX_FEED_LIMIT:
        raise ValidationFailed({"limit": [f"Ask for between 1 and {MAX_FEED_LIMIT} changes."]})
    return list(db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.sequence > after,
                                    AuditEntry.action.in_(list(actions)),
                                    AuditEntry.outcome == names.SUCCESS)
        .order_by(AuditEntry.sequence).limit(limit)))


def customers_accessed_by(actor_id: str, *, since: dt.datetime, until: dt.datetime,
                          limit: int = 100_000) -> list[uuid.UUID]:
    """Every customer whose record staff member ``actor_id`` viewed or revealed in [since, until).

    What the breach register (GDPR Art. 34) selects the people to tell by
    when a staff account was misused: each customer once, oldest access
    first. Both ends are aware datetimes; an empty or reversed window
    raises :class:`~consentmgr.errors.ValidationFailed`.
    """
    if since >= until:
        raise ValidationFailed({"until": ["The end must be after the start."]})
    first = sa.func.min(AuditEntry.id).label("first")
    rows = db.session.execute(
        sa.select(AuditEntry.subject_id, first)
        .where(AuditEntry.actor_type == "staff", AuditEntry.actor_id == actor_id,
               AuditEntry.action.in_(list(names.STAFF_ACCESS_ACTIONS)),
               AuditEntry.subject_id.is_not(None),
               AuditEntry.occurred_at >= since, AuditEntry.occurred_at < until)
        .group_by(AuditEntry.subject_id).order_by(first).limit(limit))
    return [row.subject_id for row in rows]
