"""``flask api-clients ...``: create, list and revoke the keys other systems use."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from consentmgr.actors import cli_actor
from consentmgr.apiclients.services import (
    SCOPES,
    create_client,
    get_client,
    list_clients,
    purge_idempotency_keys,
    revoke_client,
)
from consentmgr.errors import DomainError
from consentmgr.unit_of_work import unit_of_work

api_clients = AppGroup("api-clients", help="API clients: the keys other systems call the API with.")


def _fail(exc: DomainError) -> None:
    errors = getattr(exc, "errors", None)
    if errors:
        for field, messages in errors.items():
            for message in messages:
                click.echo(f"Error: --{field}: {message}", err=True)
    else:
        click.echo(f"Error: {exc}", err=True)
    raise SystemExit(1)


@api_clients.command("create")
@click.option("--name", required=True, help="What the client is, e.g. 'shop' or 'crm'.")
@click.option("--scopes", required=True,
              help=f"Comma-separated scopes from: {', '.join(SCOPES)}.")
def create(name: str, scopes: str) -> None:
    """Create a client and print its key (shown this once, never stored)."""
    try:
        with unit_of_work():
            client, key = create_client(name, scopes, actor=cli_actor("api-clients create"))
    except DomainError as exc:
        _fail(exc)
        return
    click.echo(f"Created API client {client.name!r}")
    click.echo(f"  id:     {client.id}")
    click.echo(f"  scopes: {', '.join(client.scopes)}")
    click.echo("  key (shown once; store it in the calling system's secret store):")
    click.echo(f"    {key}")
    click.echo("Use it as: Authorization: Bearer <key>")


@api_clients.command("list")
def list_() -> None:
    """List clients with key prefix, scopes, last use and revocation."""
    clients = list_clients()
    if not clients:
        click.echo("No API clients yet. Create one with: flask api-clients create --name ... --scopes ...")
        return
    for client in clients:
        state = f"revoked {client.revoked_at:%Y-%m-%d %H:%M}" if client.revoked_at else "active"
        used = f"{client.last_used_at:%Y-%m-%d %H:%M}" if client.last_used_at else "never"
        click.echo(f"{client.id}  {client.key_prefix}…  {client.name}  [{', '.join(client.scopes)}]  "
                   f"last used: {used}  {state}")


@api_clients.command("revoke")
@click.argument("client")
def revoke(client: str) -> None:
    """Revoke CLIENT (its id or key prefix) for good."""
    try:
        with unit_of_work():
            found = get_client(client)
            already = found.revoked_at is not None
            revoke_client(found, actor=cli_actor("api-clients revoke"))
    except DomainError as exc:
        _fail(exc)
        return
    if already:
        click.echo(f"API client {found.id} was already revoked.")
    else:
        click.echo(f"Revoked API client {found.id} ({found.key_prefix}…). Running servers refuse "
                   "the key within seconds.")


@api_clients.command("purge-idempotency-keys")
def purge_idempotency() -> None:
    """Delete stored Idempotency-Key answers older than 24 hours (they are ignored already)."""
    with unit_of_work():
        removed = purge_idempotency_keys()
    click.echo(f"Removed {removed} expired idempotency records.")
