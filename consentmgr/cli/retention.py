"""``flask retention purge [--dry-run]``: enforce the retention periods of the policy in effect.

Prints categories, counts and periods: never a name, an address or a note.
The worker runs the same purge daily (``requests.purge-retention``); this command is
for operators who want it now, or want to see first what would go
(``--dry-run`` changes nothing).
"""

from __future__ import annotations

import datetime as dt
import sys

import click
from flask import current_app
from flask.cli import AppGroup

from consentmgr.actors import cli_actor
from consentmgr.cli.purging import due_count, plan, run_purge, summary_lines
from consentmgr.cli.worker import housekeeping_purges
from consentmgr.extensions import db
from consentmgr.requests.purge import DEFAULT_BATCH_SIZE, NoPolicyInEffect
from consentmgr.sql import utcnow

retention = AppGroup("retention", help="Retention periods of the privacy policy: purge what is past them.")


@retention.command("purge")
@click.option("--dry-run", is_flag=True, help="Print what would be purged; change nothing.")
@click.option("--batch-size", default=DEFAULT_BATCH_SIZE, show_default=True,
              type=click.IntRange(1, 100_000), help="Items deleted per transaction.")
@click.option("--now", "as_of", type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
              default=None, hidden=True, help="Purge as of this UTC time (tests).")
def purge(dry_run: bool, batch_size: int, as_of: dt.datetime | None) -> None:
    """Delete what is older than its period in the policy in effect, in committed batches.

    History entries by data category, consent evidence notes, accounts
    inactive for the policy's inactive_after_days (the customer warned 30
    days ahead, then the account closed by an erasure and the customer told
    why), erased records kept for a legal obligation once their period
    ends, and expired tokens,
    idempotency records, settled jobs, undeliverable mail and ended sessions.
    Customers under a legal hold are skipped and counted; a category the
    policy gives no period is named and skipped. Resumable: run it again
    after an interruption.
    """
    now = as_of.replace(tzinfo=dt.UTC) if as_of is not None else utcnow()
    try:
        retention_plan = plan(db.session, now=now)
    except NoPolicyInEffect as exc:
        raise click.ClickException(str(exc)) from None
    housekeeping = housekeeping_purges(current_app)
    actor = cli_actor("retention purge")
    if dry_run:
        report = run_purge(db.session, retention_plan, actor=actor, dry_run=True,
                           housekeeping=housekeeping)
    else:
        total = due_count(db.session, retention_plan)
        with click.progressbar(length=total, label="Purging", file=sys.stderr,
                               show_pos=True) as bar:
            report = run_purge(db.session, retention_plan, actor=actor, batch_size=batch_size,
                               housekeeping=housekeeping, progress=bar.update)
    for line in summary_lines(report):
        click.echo(line)
