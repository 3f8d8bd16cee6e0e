"""``flask consent ...``: consent receipts."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import AppGroup

from consentmgr.consent.receipts import verify_receipt
from consentmgr.crypto.signing import SignatureInvalid
from consentmgr.runtime import runtime

consent = AppGroup("consent", help="The consent ledger.")


@consent.command("verify-receipt")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def verify_receipt_command(file: Path) -> None:
    """Verify a signed consent receipt (compact JWS) and print its claims.

    Every configured receipt key verifies (the receipt's ``kid`` picks it),
    so receipts signed before a key rotation still verify.
    """
    try:
        token = file.read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"cannot read {file}: {exc}") from None
    try:
        claims = verify_receipt(token, signing_key=runtime().settings.receipt_signing_keys)
    except SignatureInvalid as exc:
        click.echo(f"INVALID: {exc}", err=True)
        raise SystemExit(1) from None
    click.echo(f"Valid receipt {claims['consentReceiptID']}: "
               f"{claims['consentmgr']['action']} '{claims['services'][0]['purposes'][0]['purpose']}' "
               f"under policy {claims['consentmgr']['policyVersion']}")
    click.echo(json.dumps(claims, indent=2, ensure_ascii=False))
