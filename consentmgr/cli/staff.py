"""``flask staff ...``: create staff accounts, list them, and (development only) get a TOTP code."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from consentmgr.actors import cli_actor
from consentmgr.errors import DomainError
from consentmgr.runtime import runtime
from consentmgr.staff.models import StaffRole
from consentmgr.staff.services import (
    create_staff,
    current_totp_code,
    find_staff_by_email,
    issue_password_link,
    list_staff,
)
from consentmgr.unit_of_work import unit_of_work

staff = AppGroup("staff", help="Staff accounts for the audited staff screens.")


def _fail(exc: DomainError) -> None:
    errors = getattr(exc, "errors", None)
    if errors:
        for field, messages in errors.items():
            option = {"display_name": "name"}.get(field, field)
            for message in messages:
                click.echo(f"Error: --{option}: {message}", err=True)
    else:
        click.echo(f"Error: {exc}", err=True)
    raise SystemExit(1)


@staff.command("create")
@click.option("--email", required=True, help="Work email address (used to sign in).")
@click.option("--name", required=True, help="Name shown to colleagues and customers.")
@click.option("--role", required=True, type=click.Choice([r.value for r in StaffRole]),
              help="agent (support), dpo (also the audit trail), admin (accounts, API clients).")
def create(email: str, name: str, role: str) -> None:
    """Create an account and print its one-time password-setting link."""
    try:
        with unit_of_work():
            user, link = create_staff(email, name, role, actor=cli_actor("staff create"))
    except DomainError as exc:
        _fail(exc)
        return
    click.echo(f"Created {role} account {user.id}.")
    click.echo("Give this one-time link to its owner (valid 48 hours) to set a password:")
    click.echo(f"  {link}")
    click.echo("They set up an authenticator app at their first sign-in.")


@staff.command("password-link")
@click.option("--email", required=True, help="The account's email address.")
def password_link(email: str) -> None:
    """Print a new one-time password link for an account (a forgotten password)."""
    try:
        with unit_of_work():
            user = find_staff_by_email(email)
            if user is None:
                click.echo("Error: no staff account has that email address.", err=True)
                raise SystemExit(1)
            link = issue_password_link(user, actor=cli_actor("staff password-link"))
    except DomainError as exc:
        _fail(exc)
        return
    click.echo(f"  {link}")


@staff.command("list")
def list_() -> None:
    """List accounts: id, role, state, last sign-in, name and email."""
    people = list_staff()
    if not people:
        click.echo("No staff accounts yet. Create one with: "
                   "flask --app wsgi staff create --email ... --name ... --role admin")
        return
    for user in people:
        state = ("deactivated" if not user.active else "no password yet" if not user.password_hash
                 else "authenticator not set up" if not user.totp_enrolled else "active")
        seen = f"{user.last_sign_in_at:%Y-%m-%d %H:%M}" if user.last_sign_in_at else "never"
        click.echo(f"{user.id}  {user.role.value:<5}  {state:<24}  last sign-in: {seen:<16}  "
                   f"{user.display_name} <{user.email}>")


@staff.command("totp-code")
@click.option("--email", required=True, help="The account's email address.")
def totp_code(email: str) -> None:
    """Print the account's current authenticator code (development only).

    For trying the staff screens without an authenticator app. Refused in
    production, where only the staff member's own app may produce codes.
    """
    if runtime().settings.production:
        click.echo("Error: totp-code is for development only; it is refused in production.",
                   err=True)
        raise SystemExit(1)
    try:
        with unit_of_work():  # read-only
            user = find_staff_by_email(email)
            if user is None:
                click.echo("Error: no staff account has that email address.", err=True)
                raise SystemExit(1)
            code = current_totp_code(user)
    except DomainError as exc:
        _fail(exc)
        return
    click.echo(code)
