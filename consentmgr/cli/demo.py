"""``flask demo load``: realistic demo customers for trying the app."""

from __future__ import annotations

import datetime as dt

import click
from flask.cli import AppGroup

from consentmgr.actors import cli_actor
from consentmgr.customers.demo import demo_customers
from consentmgr.customers.services import add_history, create_customer, find_by_email
from consentmgr.extensions import db

demo = AppGroup("demo", help="Demo data for development.")


@demo.command("load")
@click.option("--count", default=25, show_default=True, help="How many demo customers.")
def load(count: int) -> None:
    """Create demo customers with preferences and history (idempotent)."""
    actor = cli_actor("demo load")
    created = 0
    for person in demo_customers(count):
        if find_by_email(person["email"]) is not None:
            continue
        history = person.pop("history")
        customer = create_customer(
            {**person, "date_of_birth": person["date_of_birth"].isoformat()}, actor=actor
        )
        for entry in history:
            add_history(customer, {**entry, "occurred_at": entry["occurred_at"].isoformat()}, actor=actor)
        created += 1
    db.session.commit()
    click.echo(f"Demo customers: {created} created, {count - created} already present.")
    click.echo(f"For example: {next(demo_customers(1))['email']}")
    _load_demo_staff(actor)


def _load_demo_staff(actor) -> None:
    """Demo staff logins, one per role (never in production: their passwords are public)."""
    from flask import current_app

    from consentmgr.staff.demo import load_demo_staff

    if current_app.extensions["consentmgr"].settings.production:
        click.echo("Demo staff accounts are not created in production.")
        return
    logins = load_demo_staff(actor=actor)
    db.session.commit()
    click.echo(f"Demo staff: {sum(created for _, created in logins)} created, "
               f"{sum(not created for _, created in logins)} already present. Sign in at /staff/ as:")
    for login, _ in logins:
        click.echo(f"  {login.role.value:<5}  {login.email:<26}  password: {login.password}")
    click.echo("  then the 6-digit code from: flask --app wsgi staff totp-code --email <email>")
