"""``flask keys ...``: key store status and maintenance."""

from __future__ import annotations

import datetime as dt
import sys
import time

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from consentmgr.actors import cli_actor
from consentmgr.apiclients.external_refs import indexed_text
from consentmgr.apiclients.models import ExternalRef
from consentmgr.crypto import CryptoError, normalise_email
from consentmgr.customers.models import Customer
from consentmgr.extensions import db
from consentmgr.keys import data_rotation
from consentmgr.keys.reindex import (
    OTHER,
    BlindIndexColumn,
    index_counts,
    reindex_batch,
    values_to_reindex,
)
from consentmgr.keys.retirement import (
    RetirementRefused,
    retire_master_key,
    retired_master_keys,
)
from consentmgr.keys.rotation import keys_to_rewrap, rewrap_batch
from consentmgr.keys.services import key_status
from consentmgr.mail import OutboxMessage
from consentmgr.runtime import runtime
from consentmgr.sql import utcnow
from consentmgr.staff.models import StaffUser
from consentmgr.unit_of_work import unit_of_work

keys = AppGroup("keys", help="Master keys and per-customer data keys.")

# The stored blind indexes, and what each is computed over (see consentmgr.keys.reindex).
# Idempotency-Key indexes are not here: the key itself is never stored, so
# they cannot be recomputed; records expire after 24 hours.
BLIND_INDEXES = (
    BlindIndexColumn("customers.email", Customer, "email_index", "email",
                     lambda row: None if row.email is None else normalise_email(row.email)),
    BlindIndexColumn("staff_users.email", StaffUser, "email_index", "staff-email",
                     lambda row: normalise_email(row.email)),
    BlindIndexColumn("api_external_refs.ref", ExternalRef, "ref_index", "external-ref",
                     lambda row: indexed_text(row.client_id, row.external_ref)),
)


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
    with unit_of_work():
        retired = retired_master_keys(db.session)
        still_configured = [k for k in retired if k in report.configured]
        indexes = {t.name: index_counts(db.session, settings.blind_index_keys, t)
                   for t in BLIND_INDEXES}
        rotation = data_rotation.unfinished_run(db.session)
        left = data_rotation.owners_to_rotate(db.session, rotation) if rotation else 0
    if rotation is not None:
        click.echo(f"Data-key rotation run {rotation.id} is unfinished: {left} owners left "
                   "(run `keys rotate-data` to continue).")
    if retired:
        click.echo(f"Retired master keys: {', '.join(retired)}")
    for key_id in still_configured:
        click.echo(f"  '{key_id}' is retired: remove it from CONSENTMGR_MASTER_KEYS")
    click.echo("Blind indexes (values per blind-index key, current first):")
    for name, counts in indexes.items():
        shown = ", ".join(f"{k}: {n}" for k, n in counts.items() if k != OTHER or n)
        click.echo(f"  {name}: {shown}")
    if all(n == 0 for counts in indexes.values()
           for k, n in counts.items() if k != settings.blind_index_keys.current.id):
        click.echo("  Every index is under the current blind-index key.")
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


@keys.command("rotate-data")
@click.option("--batch", "--batch-size", "batch_size", default=data_rotation.DEFAULT_BATCH_SIZE,
              show_default=True, type=click.IntRange(1, 500),
              help="Owners (customers, staff) rotated per transaction.")
@click.option("--settle", "settle_seconds", default=data_rotation.SETTLE_SECONDS,
              show_default=True, type=click.IntRange(0, 3600),
              help="Seconds an owner's new key must be old before the old one is destroyed: "
                   "longer than any request that may still hold the old key.")
def rotate_data(batch_size: int, settle_seconds: int) -> None:
    """Give every customer and staff member a new data key and re-encrypt their values under it.

    The old key versions are destroyed once nothing is encrypted under them
    and the new key has settled (--settle): the run ends by waiting for the
    last batch to settle. Resumable: run it again after an interruption
    (even kill -9) and it continues the unfinished run. Stops before
    changing anything if a master key is missing or wrong.
    """
    keyring = runtime().master_keys
    actor = cli_actor("keys rotate-data")
    try:
        with unit_of_work():
            rotation = data_rotation.start_or_resume(db.session, keyring)
            total = data_rotation.owners_to_rotate(db.session, rotation)
    except CryptoError as exc:
        raise click.ClickException(f"nothing was changed: {exc}") from None
    owners = values = destroyed = 0
    settle, settling = dt.timedelta(seconds=settle_seconds), False
    with click.progressbar(length=total, label=f"Rotating data keys (run {rotation.id})",
                           file=sys.stderr, show_pos=True) as bar:
        while True:
            # Three units of work per batch, in this order (see consentmgr.keys.data_rotation).
            settled_before = utcnow() - settle
            try:
                with unit_of_work():
                    batch = data_rotation.prepare_batch(db.session, keyring, rotation,
                                                        batch_size=batch_size,
                                                        settled_before=settled_before)
                if not batch:
                    with unit_of_work():
                        until = data_rotation.unsettled_until(db.session, settle_seconds)
                    if until is None:
                        break
                    # Old keys of the last batches: destroyed once no request can hold them.
                    time.sleep(max(0.0, (until - utcnow()).total_seconds()) + 0.01)
                    settling = True
                    continue
                with unit_of_work():
                    result = data_rotation.reencrypt_batch(db.session, keyring, batch,
                                                           actor=actor, rotation=rotation,
                                                           record_empty=not settling)
                with unit_of_work():
                    destroyed += data_rotation.destroy_old_versions(
                        db.session, keyring, batch, settled_before=settled_before)
            except CryptoError as exc:
                # The failing batch was rolled back: every value is as readable as before.
                raise click.ClickException(
                    f"stopped after {owners} owners, the current batch undone: {exc}") from None
            values += result.values
            if not settling:  # the settling pass revisits owners already counted
                owners += result.owners
                bar.update(result.owners)
    with unit_of_work():
        data_rotation.finish(db.session, rotation)
    click.echo(f"Done: {owners} owners rotated, {values} values re-encrypted, "
               f"{destroyed} old data-key versions destroyed.")


@keys.command("retire-master")
@click.argument("key_id")
def retire_master(key_id: str) -> None:
    """Record that master key KEY_ID is no longer used, then remove it from the configuration.

    Refused for the current key, an unknown id, or while any data key (or
    queued mail) is still wrapped by it: run `keys rotate-master` first.
    """
    keyring = runtime().master_keys
    try:
        with unit_of_work():
            queued = db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)
                                       .where(OutboxMessage.master_key_id == key_id)) or 0
            retire_master_key(db.session, keyring, key_id, actor=cli_actor("keys retire-master"),
                              other_uses={"queued mails": queued})
    except RetirementRefused as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Master key '{key_id}' is retired: nothing is wrapped by it any more.")
    if keyring.get(key_id) is not None:
        click.echo(f"Now remove '{key_id}' from CONSENTMGR_MASTER_KEYS (and its backups' "
                   "retention schedule) and restart the application.")


@keys.command("reindex")
@click.option("--batch", "--batch-size", "batch_size", default=500, show_default=True,
              type=click.IntRange(1, 500), help="Rows re-indexed per transaction.")
def reindex(batch_size: int) -> None:
    """Recompute the stored blind indexes under the current (first) blind-index key.

    Lookups keep working during the run: they try every configured key.
    Resumable. When it is done, `keys status` shows nothing under the old
    key, and the old key can be dropped from CONSENTMGR_BLIND_INDEX_KEYS.
    """
    keyring = runtime().settings.blind_index_keys
    actor = cli_actor("keys reindex")
    with unit_of_work():
        total = sum(values_to_reindex(db.session, keyring, t) for t in BLIND_INDEXES)
    done = 0
    with click.progressbar(length=total, label=f"Re-indexing under '{keyring.current.id}'",
                           file=sys.stderr, show_pos=True) as bar:
        for target in BLIND_INDEXES:
            while True:
                with unit_of_work():
                    count = reindex_batch(db.session, keyring, target, actor=actor,
                                          batch_size=batch_size)
                if not count:
                    break
                done += count
                bar.update(count)
    click.echo(f"Done: {done} index values recomputed under '{keyring.current.id}'.")
    old = [k for k in keyring.ids[1:]]
    if old:
        click.echo(f"The stored indexes no longer need {', '.join(old)}. Keep them configured "
                   "(after the current key) for 24 hours, for Idempotency-Key replays, and as "
                   "long as audit entries or consent evidence hashed under them must be "
                   "searched by address; then remove them from CONSENTMGR_BLIND_INDEX_KEYS.")
