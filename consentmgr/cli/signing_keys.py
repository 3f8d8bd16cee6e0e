"""``flask keys generate-signing-key`` and ``flask keys signing-status``: the Ed25519 rings.

Receipt and audit signing keys live in configuration only
(``CONSENTMGR_RECEIPT_SIGNING_KEYS``, ``CONSENTMGR_AUDIT_SIGNING_KEYS``):
these commands make a new key for the operator to put first in a ring, and
show which keys each ring holds, so a rotation can be checked before and
after the configuration changes. Attached to the ``keys`` group.
"""

from __future__ import annotations

import click

from consentmgr.audit.services import checkpoints_by_key
from consentmgr.crypto.signing import (
    generate_private_key_text,
    key_id,
    load_private_key,
)
from consentmgr.extensions import db
from consentmgr.runtime import runtime
from consentmgr.unit_of_work import unit_of_work


@click.command("generate-signing-key")
def generate_signing_key() -> None:
    """Print a new Ed25519 signing key (base64 of 32 bytes) for a signing-key ring.

    Only the key goes to standard output, so it can be piped into a secret
    store; its key id and what to do next go to standard error. Put it first
    in CONSENTMGR_RECEIPT_SIGNING_KEYS or CONSENTMGR_AUDIT_SIGNING_KEYS and
    keep the older keys after it.
    """
    text = generate_private_key_text()
    click.echo(text)
    kid = key_id(load_private_key(text, source="the new key"))
    click.echo(f"Key id (kid): {kid}\n"
               "Put it FIRST in CONSENTMGR_RECEIPT_SIGNING_KEYS (or CONSENTMGR_AUDIT_SIGNING_KEYS),"
               " comma-separated, and keep the current keys after it so that what they signed "
               "still verifies. Keep a copy in your secret store's backup.", err=True)


@click.command("signing-status")
def signing_status() -> None:
    """List the receipt and audit signing keys by key id: which one signs, which only verify."""
    settings = runtime().settings
    with unit_of_work():  # read-only
        stored = checkpoints_by_key(db.session)
    click.echo("Receipt signing keys (all published at /.well-known/jwks.json):")
    for position, kid in enumerate(settings.receipt_signing_keys.ids):
        click.echo(f"  {kid}  {'signs new receipts' if position == 0 else 'verifies only'}")
    click.echo("Audit signing keys:")
    for position, kid in enumerate(settings.audit_signing_keys.ids):
        role = "signs new checkpoints" if position == 0 else "verifies only"
        click.echo(f"  {kid}  {role}; {stored.get(kid, 0)} stored checkpoints")
    retired = {kid: n for kid, n in stored.items() if kid not in settings.audit_signing_keys}
    for kid, count in sorted(retired.items()):
        click.echo(f"  {kid}  not configured (retired); {count} stored checkpoints, compared "
                   "with the chain but no longer signature-checked")
