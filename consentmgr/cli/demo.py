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
