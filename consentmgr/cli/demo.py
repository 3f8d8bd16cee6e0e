"""``flask demo load``: realistic demo customers for trying the app."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from consentmgr.actors import Actor, cli_actor
from consentmgr.customers.demo import demo_customers
from consentmgr.customers.services import add_history, create_customer, find_by_email
from consentmgr.runtime import runtime
from consentmgr.staff.demo import DemoStaffRefused, load_demo_staff
from consentmgr.unit_of_work import unit_of_work

demo = AppGroup("demo", help="Demo data for development.")


@demo.command("load")
@click.option("--count", default=25, show_default=True, help="How many demo customers.")
def load(count: int) -> None:
    """Create demo customers with preferences and history (idempotent); never in production."""
    if runtime().settings.production:
        # Made-up people in a production database would be processed (mailed,
        # exported, counted) like customers, and the demo staff passwords are public.
        raise click.ClickException(
            "Demo customers and staff are not created in production "
            "(CONSENTMGR_ENV=production): nothing was written.")
    actor = cli_actor("demo load")
    created = 0
    with unit_of_work():
        for person in demo_customers(count):
            if find_by_email(person["email"]) is not None:
                continue
            history = person.pop("history")
            customer = create_customer(
                {**person, "date_of_birth": person["date_of_birth"].isoformat()}, actor=actor
            )
            for entry in history:
                add_history(customer, {**entry, "occurred_at": entry["occurred_at"].isoformat()},
                            actor=actor)
            created += 1
    click.echo(f"Demo customers: {created} created, {count - created} already present.")
    click.echo(f"For example: {next(demo_customers(1))['email']}")
    _load_demo_staff(actor)


def _load_demo_staff(actor: Actor) -> None:
    """Demo staff logins, one per role (never in production: their passwords are public)."""
    try:
        with unit_of_work():
            logins = load_demo_staff(actor=actor, production=runtime().settings.production)
    except DemoStaffRefused:  # unreachable from `demo load`, which refuses production first
        click.echo("Demo staff accounts are not created in production.")
        return
    click.echo(f"Demo staff: {sum(created for _, created in logins)} created, "
               f"{sum(not created for _, created in logins)} already present. Sign in at /staff/ as:")
    for login, _ in logins:
        click.echo(f"  {login.role.value:<5}  {login.email:<26}  password: {login.password}")
    click.echo("  then the 6-digit code from: flask --app wsgi staff totp-code --email <email>")
