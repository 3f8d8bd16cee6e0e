"""``flask keys ...``: key store status and maintenance."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from consentmgr.actors import cli_actor
from consentmgr.extensions import db
from consentmgr.keys.rotation import keys_to_rewrap, rewrap_batch
from consentmgr.keys.services import key_status
from consentmgr.runtime import runtime
from consentmgr.unit_of_work import unit_of_work

keys = AppGroup("keys", help="Master keys and per-customer data keys.")


@keys.command("status")
def status() -> None:
    """Show how many data keys each master-key version wraps."""
    settings = runtime().settings
    with unit_of_work():
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
    keyring = runtime().master_keys
    actor = cli_actor("keys rotate-master")
    current = keyring.current.id
    with unit_of_work():
        total = keys_to_rewrap(db.session, keyring)
    done = 0
    while True:
        # One unit of work per batch: the keys and the batch's audit entry commit together.
        with unit_of_work():
            count = rewrap_batch(db.session, keyring, actor=actor, batch_size=batch_size)
        if not count:
            break
        done += count
        click.echo(f"  re-wrapped {done}/{total} data keys under '{current}'")
    click.echo(f"Done: {done} data keys re-wrapped; every live key is now under '{current}'.")
