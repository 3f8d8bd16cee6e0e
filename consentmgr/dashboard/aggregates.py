"""Keeping the dashboard's daily counts up to date from the audit trail, a batch at a time.

Every change the dashboard counts leaves an audit entry: a consent choice
(with its ledger row), a request received or answered, a reveal, an API
client's call. :func:`count_new_entries` reads the sequenced entries above
the watermark (a few thousand at a time), looks up the rows they point to,
and *adds* their counts to the day they belong to -- a consent choice
collected elsewhere belongs to the day it was made, a request's answer to
the day it was answered. The watermark moves in the same transaction as the
counts, so a batch counts exactly once, and running again with nothing new
changes nothing. The cost follows what happened since the last run, not
the size of the ledger.

:func:`rebuild` recounts from the start of the trail (optionally keeping days
before ``since``), for a first run on an old database or after a fix to
the counting; :func:`snapshot_renewals` replaces the one figure that is a
state rather than a count (grants still waiting for renewal).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from consentmgr.consent.catalogue import NoPolicyPublished, catalogue
from consentmgr.consent.models import ConsentEvent, ConsentState, ConsentStatus
from consentmgr.dashboard.models import AggregateWatermark, DailyAggregate
from consentmgr.requests.models import DataSubjectRequest
from consentmgr.sql import as_utc, as_uuid

BATCH = 5000
DAY = dt.timedelta(days=1)

# Metric names (the ``metric`` column). Dimensions in brackets.
CONSENT_METRICS = {
    actions.CONSENT_GRANTED: "consent_granted",  # [purpose]
    actions.CONSENT_WITHDRAWN: "consent_withdrawn",  # [purpose]
    actions.CONSENT_REFUSED: "consent_refused",  # [purpose]
    actions.CONSENT_OBJECTED: "consent_objected",  # [purpose]
}
CONSENT_GPC = "consent_gpc"  # [purpose] choices that honoured a Global Privacy Control signal
REQUESTS_RECEIVED = "requests_received"  # [type]
REQUESTS_ANSWERED = "requests_answered"  # [type] completed or refused, on the day answered
REQUESTS_ON_TIME = "requests_on_time"  # [type] answered by the (possibly extended) deadline
REQUESTS_ANSWER_DAYS = "requests_answer_days"  # [whole days from receipt to answer]
REVEALS_BY_REASON = "reveals_by_reason"  # [reason code]
REVEALS_BY_STAFF = "reveals_by_staff"  # [staff id] by week: ``day`` is the Monday
API_CALLS = "api_calls"  # [API client id] audited calls (reads, writes, choices), by week
RENEWALS_OUTSTANDING = "renewals_outstanding"  # [purpose] a snapshot, on the day taken

ANSWERED_ACTIONS = (actions.REQUEST_COMPLETED, actions.REQUEST_REJECTED)
# Besides the choices, what can change the grants waiting for renewal.
RENEWAL_ACTIONS = (actions.POLICY_PUBLISHED, actions.CONSENT_EXPIRED,
                   actions.CONSENT_RENEWAL_REQUIRED)
NO_REASON = "none"


def week_of(day: dt.date) -> dt.date:
    """The Monday of ``day``'s ISO week: the dashboard's weekly bucket."""
    return day - dt.timedelta(days=day.weekday())


def _day(moment: dt.datetime) -> dt.date:
    return as_utc(moment).date()


@dataclass(frozen=True)
class BatchResult:
    """What one call of :func:`count_new_entries` did."""

    entries: int  # audit entries read (0: the aggregates are up to date)
    watermark: int  # the last sequence number now counted
    rows: int  # aggregate rows added to
    consent_changed: bool = False  # a choice, an expiry or a new policy among them


def watermark(session: Session, *, lock: bool = False) -> AggregateWatermark:
    """The watermark row, created at 0 the first time; ``lock`` takes its row lock (PostgreSQL).

    The lock keeps a refresh by the CLI and one by a worker from counting
    the same batch twice: the second waits, then reads the moved watermark.
    """
    query = sa.select(AggregateWatermark).where(AggregateWatermark.id == 1)
    if lock:
        query = query.with_for_update()
    row = session.scalars(query).one_or_none()
    if row is None:
        row = AggregateWatermark(id=1, audit_sequence=0)
        session.add(row)
        session.flush()
    return row


def _counts_for(session: Session, entries: list[Any], *, since: dt.date | None) -> Counter:
    counts: Counter = Counter()

    def add(metric: str, day: dt.date, dimension: str) -> None:
        if since is None or day >= since:
            counts[(metric, day, str(dimension)[:80])] += 1

    consent_ids = [e.id for e in entries if e.action in CONSENT_METRICS]
    if consent_ids:
        events = session.execute(
            sa.select(ConsentEvent.purpose, ConsentEvent.audit_entry_id, ConsentEvent.gpc,
                      ConsentEvent.occurred_at, ConsentEvent.collected_at)
            .where(ConsentEvent.audit_entry_id.in_(consent_ids)))
        metric_of = {e.id: CONSENT_METRICS[e.action] for e in entries if e.action in CONSENT_METRICS}
        for event in events:
            # A choice collected elsewhere (an import) belongs to the day it was made.
            day = _day(event.collected_at or event.occurred_at)
            add(metric_of[event.audit_entry_id], day, event.purpose)
            if event.gpc:
                add(CONSENT_GPC, day, event.purpose)

    request_entries = [e for e in entries
                       if e.action == actions.REQUEST_RECEIVED or e.action in ANSWERED_ACTIONS]
    request_ids = {as_uuid((e.details or {}).get("request_id")) for e in request_entries} - {None}
    found = {}
    if request_ids:
        found = {r.id: r for r in session.execute(
            sa.select(DataSubjectRequest.id, DataSubjectRequest.type,
                      DataSubjectRequest.received_at, DataSubjectRequest.completed_at,
                      DataSubjectRequest.due_at, DataSubjectRequest.extended_due_at)
            .where(DataSubjectRequest.id.in_(request_ids)))}
    for entry in request_entries:
        details = entry.details or {}
        req = found.get(as_uuid(details.get("request_id")))
        kind = str(req.type.value if req is not None else details.get("type", "unknown"))
        if entry.action == actions.REQUEST_RECEIVED:
            add(REQUESTS_RECEIVED, _day(req.received_at if req else entry.occurred_at), kind)
        elif req is not None and req.completed_at is not None:
            answered = as_utc(req.completed_at)
            add(REQUESTS_ANSWERED, answered.date(), kind)
            if answered <= as_utc(req.extended_due_at or req.due_at):
                add(REQUESTS_ON_TIME, answered.date(), kind)
            add(REQUESTS_ANSWER_DAYS, answered.date(),
                str(max(0, (answered - as_utc(req.received_at)) // DAY)))

    for entry in entries:
        if entry.action == actions.CUSTOMER_REVEAL and entry.outcome == actions.SUCCESS:
            day = _day(entry.occurred_at)
            add(REVEALS_BY_REASON, day, entry.reason_code or NO_REASON)
            # Staff and clients are many, and shown only as period totals: counted by week
            # (filed under its Monday), a seventh of the rows to read for a year.
            add(REVEALS_BY_STAFF, week_of(day), entry.actor_id)
        if entry.actor_type == "api-client":
            add(API_CALLS, week_of(_day(entry.occurred_at)), entry.actor_id)
    return counts


def _add_counts(session: Session, counts: Counter) -> None:
    if not counts:
        return
    table = DailyAggregate.__table__
    connection = session.connection(bind_arguments={"clause": table})
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[connection.dialect.name]
    statement = insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=["metric", "day", "dimension"],
        set_={"value": table.c.value + statement.excluded.value})
    rows = [{"metric": metric, "day": day, "dimension": dimension, "week": week_of(day),
             "value": value} for (metric, day, dimension), value in sorted(counts.items())]
    connection.execute(statement, rows)


def _entries_after(session: Session, sequence: int, *, upto: int | None, limit: int) -> list[Any]:
    query = (sa.select(AuditEntry.id, AuditEntry.sequence, AuditEntry.occurred_at,
                       AuditEntry.actor_type, AuditEntry.actor_id, AuditEntry.action,
                       AuditEntry.outcome, AuditEntry.reason_code, AuditEntry.details)
             .where(AuditEntry.sequence > sequence)
             .order_by(AuditEntry.sequence).limit(limit))
    if upto is not None:
        query = query.where(AuditEntry.sequence <= upto)
    return list(session.execute(query))


def count_new_entries(session: Session, *, batch: int = BATCH) -> BatchResult:
    """Add the counts of up to ``batch`` audit entries above the watermark, and move it.

    Only sequenced entries are read (an entry still waiting for the
    sequencer is counted by a later run). Flushes; the caller commits, and
    calls again while ``entries`` comes back equal to ``batch``.
    """
    mark = watermark(session, lock=True)
    entries = _entries_after(session, mark.audit_sequence, upto=None, limit=batch)
    if not entries:
        return BatchResult(0, mark.audit_sequence, 0)
    counts = _counts_for(session, entries, since=None)
    _add_counts(session, counts)
    mark.audit_sequence = entries[-1].sequence
    session.flush()
    changed = any(e.action in CONSENT_METRICS or e.action in RENEWAL_ACTIONS for e in entries)
    return BatchResult(len(entries), mark.audit_sequence, len(counts), changed)


def rebuild(session: Session, *, since: dt.date | None = None, batch: int = BATCH,
            progress: Any = None) -> int:
    """Recount every day (or every day from the Monday of ``since``'s week); returns entries read.

    Runs as one transaction with the watermark locked, so the dashboard
    shows the old counts until the new ones commit, and no refresh runs in
    between. Counts days before ``since`` are kept as they are.
    """
    mark = watermark(session, lock=True)
    if since is not None:
        since = week_of(since)  # weekly rows (staff, clients) are recounted whole
    head = session.scalar(sa.select(sa.func.max(AuditEntry.sequence))) or 0
    deleting = sa.delete(DailyAggregate).where(DailyAggregate.metric != RENEWALS_OUTSTANDING)
    if since is not None:
        deleting = deleting.where(DailyAggregate.day >= since)
    session.execute(deleting, execution_options={"synchronize_session": False})
    position, read = 0, 0
    while True:
        entries = _entries_after(session, position, upto=head, limit=batch)
        if not entries:
            break
        # Entries above the old watermark count for every day: they were never counted.
        old = [e for e in entries if e.sequence <= mark.audit_sequence]
        new = [e for e in entries if e.sequence > mark.audit_sequence]
        counts = _counts_for(session, old, since=since) + _counts_for(session, new, since=None)
        _add_counts(session, counts)
        position, read = entries[-1].sequence, read + len(entries)
        if progress is not None:
            progress(len(entries))
    mark.audit_sequence = max(mark.audit_sequence, head)
    session.flush()
    return read


def snapshot_renewals(session: Session, *, today: dt.date) -> dict[str, int]:
    """Count, per purpose, the grants still given under a version older than a material change.

    Such a grant no longer lets the purpose be used (the consent check says
    ``renewal-required``) until the customer renews it. A state, not a
    count of events, so it is taken whole and replaces the previous snapshot.
    """
    try:
        current = catalogue(today)
    except NoPolicyPublished:
        return {}
    rows = session.execute(
        sa.select(ConsentState.purpose, ConsentState.policy_version, sa.func.count())
        .where(ConsentState.status == ConsentStatus.GIVEN)
        .group_by(ConsentState.purpose, ConsentState.policy_version))
    outstanding: Counter = Counter()
    for purpose, version, count in rows:
        info = current.purposes.get(purpose)
        if info is None:
            continue
        given_under = current.effective_dates.get(version)
        if given_under is None or given_under < info.material_since:
            outstanding[purpose] += count
    session.execute(sa.delete(DailyAggregate).where(DailyAggregate.metric == RENEWALS_OUTSTANDING),
                    execution_options={"synchronize_session": False})
    _add_counts(session, Counter({(RENEWALS_OUTSTANDING, today, p): n
                                  for p, n in outstanding.items()}))
    session.flush()
    return dict(outstanding)


def mark_refreshed(session: Session, *, now: dt.datetime) -> None:
    """Note when the aggregates were last brought up to date (shown on the dashboard)."""
    watermark(session).refreshed_at = now
    session.flush()


#: The worker's schedule that keeps the aggregates up to date, and how often it runs.
REFRESH_SCHEDULE = "dashboard.refresh-aggregates"
REFRESH_EVERY = dt.timedelta(minutes=5)
#: Batches one refresh counts before it ends its transaction (the next run goes on).
MAX_BATCHES = 20


@dataclass(frozen=True)
class RefreshResult:
    """What one :func:`refresh` did: entries counted, and whether it caught up with the trail."""

    entries: int
    watermark: int
    caught_up: bool


def refresh(session: Session, *, now: dt.datetime, batch: int = BATCH,
            max_batches: int = MAX_BATCHES) -> RefreshResult:
    """Count what the trail gained since the last run (up to ``max_batches`` batches).

    Then retake the renewals snapshot and note the time. Flushes; the
    caller (the worker's job, or ``flask dashboard refresh``) commits, and
    runs it again while ``caught_up`` is false.
    """
    counted, changed, result = 0, False, BatchResult(0, 0, 0)
    for _ in range(max_batches):
        result = count_new_entries(session, batch=batch)
        counted, changed = counted + result.entries, changed or result.consent_changed
        if result.entries < batch:
            break
    # The snapshot reads every consent state: retaken when a choice (or a policy) came
    # in, and once a day (a version taking effect changes what must be renewed).
    taken = session.scalar(sa.select(sa.func.max(DailyAggregate.day))
                           .where(DailyAggregate.metric == RENEWALS_OUTSTANDING))
    if changed or taken != now.date():
        snapshot_renewals(session, today=now.date())
    mark_refreshed(session, now=now)
    return RefreshResult(counted, result.watermark, result.entries < batch)
