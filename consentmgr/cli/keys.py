"""``flask keys ...``: key store status and maintenance."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from consentmgr.extensions import db
from consentmgr.keys.services import key_status

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
