"""``flask requests ...``: the register of data-subject requests, for operators and cron jobs.

Prints ids, types, statuses and dates: never a name, an address or a note.
``overdue`` exits 1 when any request is past its deadline, so a cron job
can alert (GDPR Art. 12(3): one month, or the extended date).
"""

from __future__ import annotations

import datetime as dt
from typing import Sequence

import click
from flask.cli import AppGroup

from consentmgr.errors import ValidationFailed
from consentmgr.requests.models import DataSubjectRequest, RequestStatus, RequestType
from consentmgr.requests.services import count_requests, list_requests, overdue_requests
from consentmgr.sql import utcnow
from consentmgr.unit_of_work import unit_of_work

requests = AppGroup("requests", help="Data-subject requests (GDPR Arts. 15-21): list, overdue.")

_COLUMNS = ("ID", "TYPE", "STATUS", "RECEIVED", "DEADLINE")
_WIDTHS = (36, 13, 17, 10, 10)


def _day(moment: dt.datetime) -> str:
    return f"{moment:%Y-%m-%d}"


def _row(cells: Sequence[str]) -> str:
    return "  ".join(cell.ljust(width) for cell, width in zip(cells, _WIDTHS)).rstrip()


def _table(found: Sequence[DataSubjectRequest], now: dt.datetime) -> list[str]:
    lines = [_row(_COLUMNS)]
    for req in found:
        late = "  overdue" if req.is_overdue(now) else ""
        lines.append(_row((str(req.id), req.type.value, req.status.value, _day(req.received_at),
                           _day(req.deadline))) + late)
    return lines


@requests.command("list")
@click.option("--status", type=click.Choice([s.value for s in RequestStatus]),
              help="Only requests with this status.")
@click.option("--type", "type_", type=click.Choice([t.value for t in RequestType]),
              help="Only requests of this type.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 1000),
              help="How many, soonest deadline first.")
def list_(status: str | None, type_: str | None, limit: int) -> None:
    """List requests, soonest deadline first: id, type, status, received, deadline."""
    now = utcnow()
    with unit_of_work():  # read-only: one snapshot
        try:
            found = list_requests(status=status, type=type_, limit=limit)
            total = count_requests(status=status, type=type_)
        except ValidationFailed as exc:
            raise click.UsageError(str(exc)) from None
        lines = _table(found, now)
    if not found:
        click.echo("No requests.")
        return
    for line in lines:
        click.echo(line)
    if total > len(found):
        click.echo(f"({len(found)} of {total} shown; use --limit or filters for more.)")


@requests.command("overdue")
@click.option("--within-days", default=7, show_default=True, type=click.IntRange(0, 366),
              help="Also list open requests due within this many days.")
def overdue(within_days: int) -> None:
    """Print overdue and soon-due requests; exit 1 if any is overdue (for cron)."""
    now = utcnow()
    with unit_of_work():  # read-only: one snapshot
        late, soon = overdue_requests(within_days=within_days, now=now)
        late_lines, soon_lines = _table(late, now), _table(soon, now)
    if late:
        click.echo(f"{len(late)} overdue request(s):")
        for line in late_lines:
            click.echo(line)
    else:
        click.echo("No overdue requests.")
    if soon:
        click.echo(f"{len(soon)} request(s) due within {within_days} day(s):")
        for line in soon_lines:
            click.echo(line)
    elif within_days:
        click.echo(f"None due within {within_days} day(s).")
    if late:
        raise SystemExit(1)
