"""``flask keys ...``: key store status and maintenance."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from consentmgr.extensions import db
from consentmgr.actors import cli_actor
from consentmgr.audit import services as audit
from consentmgr.keys.services import key_status, rewrap_data_keys

keys = AppGroup("keys", help="Master keys and per-customer data keys.")


@keys.command("status")
def status() -> None:
    """Show how many data keys each master-key version wraps."""
    settings = current_app.extensions["consentmgr"].settings
    report = key_status(db.session, settings.master_keys)
    click.echo(f"Configured master keys (current first): {', '.join(report.configured)}")
    click.echo(f"Key store: {'separate database' if settings.keys_database_url else 'main database'}")
    if not report.by_master_key:
        click.echo("No data keys yet.")
    for key_id, count in sorted(report.by_master_key.items()):
        marker = " (current)" if key_id == settings.master_keys.current.id else ""
        missing = "" if key_id in report.configured else "  MISSING from configuration!"
        click.echo(f"  {key_id}{marker}: {count} data keys{missing}")
    click.echo(f"Destroyed (erased customers): {report.destroyed}")
    if report.unknown_master_keys:
        raise SystemExit(1)


@keys.command("rotate-master")
@click.option("--batch-size", default=500, show_default=True, help="Keys re-wrapped per transaction.")
def rotate_master(batch_size: int) -> None:
    """Re-wrap every data key under the current (first) master key.

    Put the new key first in CONSENTMGR_MASTER_KEYS, keep the old one after
    it, run this, check `keys status`, then remove the old key. Resumable:
    run it again after an interruption.
    """
    settings = current_app.extensions["consentmgr"].settings
    current = settings.master_keys.current.id
    done = 0
    for done, total in rewrap_data_keys(db.session, settings.master_keys, batch_size=batch_size):
        click.echo(f"  re-wrapped {done}/{total} data keys under '{current}'")
    audit.record("keys.rotate-master", actor=cli_actor("keys rotate-master"),
                 details={"to": current, "rewrapped": done})
    db.session.commit()
    click.echo(f"Done: {done} data keys re-wrapped; every live key is now under '{current}'.")

