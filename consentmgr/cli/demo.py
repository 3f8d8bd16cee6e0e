"""``flask demo load``: realistic demo customers for trying the app."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from consentmgr.actors import Actor, cli_actor
from consentmgr.customers.demo import demo_customers
from consentmgr.customers.services import add_history, create_customer, find_by_email
from consentmgr.dashboard.aggregates import refresh
from consentmgr.dashboard.demo import load_demo_history
from consentmgr.extensions import db
from consentmgr.runtime import runtime
from consentmgr.sql import utcnow
from consentmgr.staff.accounts import find_staff_by_email
from consentmgr.staff.demo import DEMO_STAFF, DemoStaffRefused, load_demo_staff
from consentmgr.staff.models import StaffRole
from consentmgr.unit_of_work import unit_of_work

demo = AppGroup("demo", help="Demo data for development.")


@demo.command("load")
@click.option("--count", default=25, show_default=True, help="How many demo customers.")
@click.option("--history/--no-history", "with_history", default=True, show_default=True,
              help="Also a year of consent choices and requests (for the DPO dashboard).")
def load(count: int, with_history: bool) -> None:
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
    if with_history:
        _load_demo_history(actor, count)


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


def _load_demo_history(actor: Actor, count: int) -> None:
    """A year of consent choices and requests for the demo customers, for the dashboard."""
    customers = [c for c in (find_by_email(p["email"]) for p in demo_customers(count)) if c]
    staff = {s.role: find_staff_by_email(s.email) for s in DEMO_STAFF}
    dpo, agent = staff.get(StaffRole.DPO), staff.get(StaffRole.AGENT)
    with unit_of_work():
        history = load_demo_history(
            customers, actor=actor, today=utcnow().date(),
            staff=Actor("staff", str(dpo.id), role="dpo") if dpo else actor,
            agents=[Actor("staff", str(agent.id), role="agent")] if agent else [])
    with unit_of_work():
        refresh(db.session, now=utcnow())  # the dashboard shows it at once (the worker also does)
    click.echo(f"Demo history: {history.choices} consent choices and {history.requests} "
               f"requests over the last year for {history.customers} customers.")
