"""The DPO dashboard's figures for a period, read from the daily aggregates only.

One grouped read of ``dashboard_aggregates`` (by metric and week) gives
every weekly series; the few live figures (requests overdue now) come from
small indexed tables. Nothing here scans the consent ledger or the audit
trail, so the page costs the same with ten events or ten million.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from consentmgr.apiclients.models import ApiClient
from consentmgr.consent.catalogue import NoPolicyPublished, catalogue
from consentmgr.dashboard import aggregates as agg
from consentmgr.dashboard.models import AggregateWatermark, DailyAggregate
from consentmgr.errors import ValidationFailed
from consentmgr.i18n import gettext
from consentmgr.policies.models import PolicyVersion
from consentmgr.requests.services import count_requests
from consentmgr.sql import as_uuid

#: The periods the dashboard offers, in weeks; the first is the default.
PERIODS = (12, 4, 52)
DEFAULT_PERIOD = PERIODS[0]
#: Someone revealing more than this many times the median of their colleagues is flagged.
REVEAL_OUTLIER_FACTOR = 3
#: Weeks pooled into each point of the opt-in rate, by period (a rolling rate over a year).
RATE_WINDOW = {4: 1, 12: 1, 52: 4}
#: How many weeks before and after a policy version the withdrawal comparison looks at.
AROUND_VERSION_WEEKS = 4
CONSENT_ACTIONS = ("granted", "withdrawn", "refused", "objected")


def parse_period(value: object) -> int:
    """The period in weeks from a query parameter; raises :class:`ValidationFailed` otherwise."""
    if value is None or value == "":
        return DEFAULT_PERIOD
    try:
        weeks = int(str(value))
    except ValueError:
        weeks = None
    if weeks not in PERIODS:
        raise ValidationFailed({"weeks": [gettext("Choose a period of 4, 12 or 52 weeks.")]})
    return weeks


def period_weeks(today: dt.date, weeks: int) -> list[dt.date]:
    """The Mondays of the last ``weeks`` weeks, oldest first, ending with this week."""
    last = agg.week_of(today)
    return [last - dt.timedelta(weeks=weeks - 1 - i) for i in range(weeks)]


def percentile(histogram: dict[int, int], share: float) -> int | None:
    """The nearest-rank ``share`` percentile (0 < share <= 1) of a {value: count} histogram."""
    total = sum(histogram.values())
    if total == 0:
        return None
    rank = max(1, math.ceil(share * total))
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    return None  # pragma: no cover - unreachable: seen reaches total


def median(values: Iterable[int]) -> float:
    """The median of ``values`` (0 for none)."""
    ordered = sorted(values)
    if not ordered:
        return 0
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


@dataclass(frozen=True)
class VersionMark:
    """A policy version that took effect in the period, and withdrawals around it."""

    label: str
    effective_date: dt.date
    week: dt.date
    withdrawals_before: int
    withdrawals_after: int


@dataclass(frozen=True)
class StaffReveals:
    """One staff member's reveals in the period."""

    staff_id: str
    count: int
    flagged: bool


@dataclass
class DashboardReport:
    """Every figure on the dashboard for one period (weekly series keyed by Monday)."""

    weeks: list[dt.date]
    series: dict[str, dict[str, dict[dt.date, int]]]  # metric -> dimension -> week -> value
    purposes: list[str]
    versions: list[VersionMark]
    answer_days: dict[int, int]
    answered: int
    on_time: int
    overdue_now: int
    staff_reveals: list[StaffReveals]
    reveal_median: float
    api_clients: dict[str, str]
    renewals: dict[str, int]
    refreshed_at: dt.datetime | None

    def weekly(self, metric: str, dimension: str) -> list[int]:
        """The metric's value for ``dimension`` in each week of the period (0 where none)."""
        values = self.series.get(metric, {}).get(dimension, {})
        return [values.get(week, 0) for week in self.weeks]

    def dimensions(self, metric: str) -> list[str]:
        """The dimensions seen for ``metric`` in the period, sorted."""
        return sorted(self.series.get(metric, {}))

    def total(self, metric: str, dimension: str | None = None) -> int:
        """The metric's sum over the period (for one dimension, or all)."""
        rows = self.series.get(metric, {})
        chosen = [rows.get(dimension, {})] if dimension is not None else rows.values()
        return sum(sum(values.values()) for values in chosen)

    def opt_in_rate(self, purpose: str, *, window: int = 1) -> list[float | None]:
        """Per week: grants as a share of every choice recorded for ``purpose`` (None: no choice).

        ``window`` > 1 pools each week with the ones before it (a rolling rate,
        steadier where few customers choose each week); the first weeks of the
        period pool what the period holds.
        """
        weekly = {a: self.weekly(f"consent_{a}", purpose) for a in CONSENT_ACTIONS}
        rates = []
        for i in range(len(self.weeks)):
            pooled = range(max(0, i - window + 1), i + 1)
            granted = sum(weekly["granted"][j] for j in pooled)
            choices = sum(weekly[a][j] for a in CONSENT_ACTIONS for j in pooled)
            rates.append(granted / choices if choices else None)
        return rates

    @property
    def median_answer_days(self) -> int | None:
        """Median whole days from receipt to answer, of requests answered in the period."""
        return percentile(self.answer_days, 0.5)

    @property
    def p95_answer_days(self) -> int | None:
        """95th percentile of whole days from receipt to answer."""
        return percentile(self.answer_days, 0.95)

    @property
    def on_time_share(self) -> float | None:
        """Share of answers given by the deadline (None: nothing answered)."""
        return self.on_time / self.answered if self.answered else None

    @property
    def is_empty(self) -> bool:
        """True when nothing at all was counted in the period."""
        return not any(self.series.values())


#: Metrics drawn week by week; the others are only summed over the period, per dimension.
WEEKLY_METRICS = (*agg.CONSENT_METRICS.values(), agg.CONSENT_GPC, agg.REQUESTS_RECEIVED,
                  agg.REQUESTS_ANSWERED, agg.REQUESTS_ON_TIME, agg.REVEALS_BY_REASON)
PERIOD_METRICS = (agg.REVEALS_BY_STAFF, agg.API_CALLS)


def _weekly_series(session: Session, first: dt.date, last: dt.date
                   ) -> dict[str, dict[str, dict[dt.date, int]]]:
    table = DailyAggregate.__table__.c
    # metric IN (...) and a week range: the (metric, week) index, one short range per metric.
    rows = session.execute(
        sa.select(table.metric, table.week, table.dimension, sa.func.sum(table.value))
        .where(table.metric.in_(WEEKLY_METRICS), table.week >= first, table.week <= last)
        .group_by(table.metric, table.week, table.dimension))
    series: dict[str, dict[str, dict[dt.date, int]]] = defaultdict(lambda: defaultdict(dict))
    for metric, week, dimension, value in rows:
        series[metric][dimension][week] = int(value)
    # Staff and clients: only their total for the period is shown, so no week in the key
    # (it is filed under the period's first week).
    rows = session.execute(
        sa.select(table.metric, table.dimension, sa.func.sum(table.value))
        .where(table.metric.in_(PERIOD_METRICS), table.week >= first, table.week <= last)
        .group_by(table.metric, table.dimension))
    for metric, dimension, value in rows:
        series[metric][dimension][first] = int(value)
    return series


def _answer_days(session: Session, first: dt.date, last: dt.date) -> dict[int, int]:
    table = DailyAggregate.__table__.c
    rows = session.execute(
        sa.select(table.dimension, sa.func.sum(table.value))
        .where(table.metric == agg.REQUESTS_ANSWER_DAYS, table.week >= first, table.week <= last)
        .group_by(table.dimension))
    return {int(days): int(count) for days, count in rows}


def _withdrawals_between(session: Session, start: dt.date, end: dt.date) -> int:
    table = DailyAggregate.__table__.c
    return int(session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(table.value), 0))
        .where(table.metric == "consent_withdrawn", table.day >= start, table.day < end)) or 0)


def _versions(session: Session, first: dt.date, last: dt.date) -> list[VersionMark]:
    around = dt.timedelta(weeks=AROUND_VERSION_WEEKS)
    marks = []
    for label, effective in session.execute(
            sa.select(PolicyVersion.version, PolicyVersion.effective_date)
            .where(PolicyVersion.effective_date >= first,
                   PolicyVersion.effective_date < last + dt.timedelta(days=7))
            .order_by(PolicyVersion.effective_date)):
        marks.append(VersionMark(
            label, effective, agg.week_of(effective),
            _withdrawals_between(session, effective - around, effective),
            _withdrawals_between(session, effective, effective + around)))
    return marks


def _consent_purposes(today: dt.date, seen: Iterable[str]) -> list[str]:
    try:
        current = catalogue(today)
    except NoPolicyPublished:
        return sorted(set(seen))
    asked = [slug for slug, info in current.purposes.items() if info.legal_basis == "consent"]
    return asked + sorted(set(seen) - set(asked))


def dashboard_report(session: Session, *, today: dt.date, weeks: int,
                     now: dt.datetime) -> DashboardReport:
    """Every figure of the dashboard for the last ``weeks`` weeks up to ``today``."""
    if weeks not in PERIODS:
        raise ValidationFailed({"weeks": [gettext("Choose a period of 4, 12 or 52 weeks.")]})
    period = period_weeks(today, weeks)
    first, last = period[0], period[-1]
    series = _weekly_series(session, first, last)
    seen = set()
    for action in CONSENT_ACTIONS:
        seen |= set(series.get(f"consent_{action}", {}))
    staff_counts = {staff: sum(values.values())
                    for staff, values in series.get(agg.REVEALS_BY_STAFF, {}).items()}
    middle = median(staff_counts.values())
    staff = [StaffReveals(s, n, bool(middle) and n > REVEAL_OUTLIER_FACTOR * middle)
             for s, n in sorted(staff_counts.items(), key=lambda item: (-item[1], item[0]))]
    client_ids = {as_uuid(c) for c in series.get(agg.API_CALLS, {})} - {None}
    clients = {str(i): name for i, name in session.execute(
        sa.select(ApiClient.id, ApiClient.name).where(ApiClient.id.in_(client_ids)))} \
        if client_ids else {}
    table = DailyAggregate.__table__.c
    renewals = {dimension: int(value) for dimension, value in session.execute(
        sa.select(table.dimension, table.value).where(table.metric == agg.RENEWALS_OUTSTANDING))}
    overdue = count_requests(overdue=True, now=now)  # the queue's own rule, an indexed count
    report = DashboardReport(
        weeks=period, series=series, purposes=_consent_purposes(today, seen),
        versions=_versions(session, first, last),
        answer_days=_answer_days(session, first, last), answered=0, on_time=0,
        overdue_now=int(overdue), staff_reveals=staff, reveal_median=middle,
        api_clients=clients, renewals=renewals,
        refreshed_at=session.scalar(sa.select(AggregateWatermark.refreshed_at)))
    report.answered = report.total(agg.REQUESTS_ANSWERED)
    report.on_time = report.total(agg.REQUESTS_ON_TIME)
    return report
