"""``flask dashboard refresh``: bring the DPO dashboard's daily aggregates up to date, or recount them.

The worker does the same every few minutes (:data:`~consentmgr.dashboard.aggregates.REFRESH_EVERY`);
the command is for a first run on an existing database, for cron without a
worker, and (``--since``/``--full``) to recount days after a fix. It prints
counts and sequence numbers only.
"""

from __future__ import annotations

import datetime as dt

import click
from flask.cli import AppGroup

from consentmgr.dashboard.aggregates import rebuild, refresh, week_of
from consentmgr.extensions import db
from consentmgr.sql import utcnow
from consentmgr.unit_of_work import unit_of_work

dashboard = AppGroup("dashboard", help="The DPO dashboard's daily aggregates.")


@dashboard.command("refresh")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Recount every day from the Monday of this date's week (YYYY-MM-DD).")
@click.option("--full", is_flag=True, help="Recount every day from the start of the trail.")
def refresh_command(since: dt.datetime | None, full: bool) -> None:
    """Count new audit entries into the daily aggregates (idempotent); or recount days."""
    if since is not None and full:
        raise click.UsageError("Use --since or --full, not both.")
    if since is not None or full:
        # Staff and client counts are kept by week: recounting starts on a Monday.
        day = week_of(since.date()) if since is not None else None
        with unit_of_work(db.session):
            read = rebuild(db.session, since=day)
        click.echo(f"Recounted {read} audit entr{'y' if read == 1 else 'ies'}"
                   f"{f' for days from {day}' if day else ''}.")
    total = 0
    while True:
        with unit_of_work(db.session):
            result = refresh(db.session, now=utcnow())
        total += result.entries
        if result.caught_up:
            break
    click.echo(f"Counted {total} new audit entr{'y' if total == 1 else 'ies'}; "
               f"the aggregates are up to date to sequence {result.watermark}.")
