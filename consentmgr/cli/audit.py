"""``flask audit ...``: verify the audit trail, sign checkpoints, list entries, the sequencer.

Exit codes of ``verify``: 0 intact, 1 tampered (the message names the first
bad sequence number) or a checkpoint that does not verify, 2 a usage error
such as an unreadable checkpoint file.
"""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

from consentmgr.actors import cli_actor
from consentmgr.audit.checkpoints import CheckpointFormatError
from consentmgr.audit.leader import sequencer_holders
from consentmgr.audit.models import AuditHead
from consentmgr.audit.sequencer import backlog, max_delay, sequenced_inline
from consentmgr.audit.services import (
    ChainBroken,
    create_checkpoint,
    load_checkpoint,
    search_entries,
    verify_chain,
)
from consentmgr.errors import ValidationFailed
from consentmgr.extensions import db
from consentmgr.runtime import runtime
from consentmgr.sql import utcnow
from consentmgr.unit_of_work import unit_of_work

audit = AppGroup("audit", help="The tamper-evident audit trail: verify, checkpoint, list, status.")


@audit.command("status")
def status() -> None:
    """Entries waiting for their place in the chain, and which worker is placing them.

    Exits 1 when an entry has waited longer than AUDIT_SEQUENCE_DELAY_SECONDS
    (no worker running, or it cannot keep up): a check for monitoring.
    """
    session = db.session
    now = utcnow()
    with unit_of_work():
        waiting = backlog(session)
        delay = max_delay(current_app.config)
        head = session.execute(sa.select(AuditHead.sequence, AuditHead.hash)).one_or_none()
        holders = (sequencer_holders(session.connection())
                   if not sequenced_inline(session) else None)
    click.echo(f"Chain head: entry {head.sequence if head else 0}.")
    if holders is None:
        click.echo("Sequencing: inline as entries are written (SQLite).")
    elif holders:
        click.echo(f"Sequencer: worker {holders[0][1]} (server process {holders[0][0]}).")
    else:
        click.echo("Sequencer: none running. Start 'flask worker'.")
    age = waiting.age(now).total_seconds()
    click.echo(f"Waiting for a place: {waiting.count} entr{'y' if waiting.count == 1 else 'ies'}"
               + (f", oldest {age:.1f} s" if waiting.count else "") + ".")
    if waiting.count and waiting.age(now) > delay:
        click.echo(f"Entries have waited longer than {delay.total_seconds():g} s.", err=True)
        raise SystemExit(1)


@audit.command("verify")
@click.option(
    "--checkpoint", "checkpoint_path", metavar="FILE",
    type=click.Path(exists=True, dir_okay=False, readable=True),
    help="A checkpoint written by 'audit checkpoint', kept off this machine.",
)
def verify(checkpoint_path: str | None) -> None:
    """Check every entry, the chain head and the signed checkpoints.

    Exits 1, naming the first bad sequence number, if an entry was changed,
    deleted, inserted or reordered, or entries a checkpoint covers are gone.
    """
    checkpoint = None
    if checkpoint_path:
        try:
            with open(checkpoint_path, "rb") as handle:
                checkpoint = load_checkpoint(handle.read())
        except CheckpointFormatError as exc:
            raise click.BadParameter(str(exc), param_hint="--checkpoint") from None
    with unit_of_work():  # read-only: one snapshot, ended at once
        result = verify_chain(checkpoint=checkpoint,
                              signing_key=runtime().settings.audit_signing_keys,
                              sequence_delay=max_delay(current_app.config))
    if result.ok:
        click.echo(result.summary())
        if checkpoint is not None:
            click.echo(f"The given checkpoint (entry {checkpoint.sequence}, signed "
                       f"{checkpoint.claims()['created_at']}) verifies and matches the chain.")
        return
    click.echo(result.summary(), err=True)
    raise SystemExit(1)


@audit.command("checkpoint")
@click.option(
    "--output", "-o", metavar="FILE", type=click.Path(dir_okay=False, writable=True),
    help="Write the signed checkpoint to FILE instead of printing it.",
)
def checkpoint(output: str | None) -> None:
    """Sign the chain head with the audit signing key; print the checkpoint.

    Keep the printed JSON document off this machine (another system, WORM
    storage, a ticket): 'audit verify --checkpoint FILE' then detects any
    removal of entries it covers, even by someone with database access.
    """
    # Committed before the document is handed out: a checkpoint of an entry
    # that was rolled back would later look like a truncated chain.
    try:
        with unit_of_work():
            signed = create_checkpoint(actor=cli_actor("audit checkpoint"),
                                       signing_key=runtime().settings.audit_signing_keys)
    except ChainBroken as exc:
        click.echo(str(exc), err=True)
        raise SystemExit(1) from None
    document = signed.to_json()
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(document)
        click.echo(f"Checkpoint of entry {signed.sequence} (key {signed.key_id}) written to "
                   f"{output}. Store it off this machine.")
    else:
        click.echo(document, nl=False)


@audit.command("list")
@click.option("--customer", "customer_id", metavar="ID", help="Only entries about this customer.")
@click.option("--action", metavar="NAME", help="An action name, or a prefix ending in '*'.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000),
              help="How many entries, newest first.")
def list_entries(customer_id: str | None, action: str | None, limit: int) -> None:
    """Show the newest entries: ids, actions and field names, never values."""
    with unit_of_work():  # read-only
        try:
            entries = search_entries(subject_id=customer_id, action=action, limit=limit)
        except ValidationFailed as exc:
            raise click.BadParameter("; ".join(m for ms in exc.errors.values() for m in ms),
                                     param_hint="--customer") from None
        if not entries:
            click.echo("No audit entries.")
        for entry in entries:
            role = f" ({entry.actor_role})" if entry.actor_role else ""
            parts = [
                f"{entry.sequence if entry.sequence is not None else 'waiting':>7}",
                entry.occurred_at_utc.strftime("%Y-%m-%d %H:%M:%SZ"),
                f"{entry.actor}{role}",
                entry.action,
                entry.outcome,
                f"customer={entry.subject_id}" if entry.subject_id else "-",
            ]
            if entry.fields:
                parts.append("fields=" + ",".join(entry.fields))
            if entry.reason_code:
                parts.append(f"reason={entry.reason_code}")
            click.echo("  ".join(parts))
