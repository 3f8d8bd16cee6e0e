"""``flask webhooks ...``: see webhooks and their dead letters, and send dead letters again.

Prints ids, event types, states, attempts and the last status or error
type: never a payload or a secret. URLs are shown to operators by ``list``
(they are the company's partners' endpoints, not personal data).
"""

from __future__ import annotations

import uuid

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from consentmgr.actors import cli_actor
from consentmgr.errors import ValidationFailed
from consentmgr.extensions import db
from consentmgr.sql import as_uuid
from consentmgr.unit_of_work import unit_of_work
from consentmgr.webhooks import services
from consentmgr.webhooks.services import WebhookDelivery, WebhookSubscription

webhooks = AppGroup("webhooks", help="Signed webhooks: list, dead letters, redeliver.")


def _uuid(ctx: click.Context, param: click.Parameter, value):
    if value is None:
        return None
    values = value if isinstance(value, tuple) else (value,)
    parsed = [as_uuid(item) for item in values]
    if any(item is None for item in parsed):
        raise click.BadParameter("give ids (UUIDs)")
    return tuple(parsed) if isinstance(value, tuple) else parsed[0]


@webhooks.command("list")
def list_() -> None:
    """Every webhook: id, client, active, pending and dead deliveries, event types, URL."""
    table = WebhookDelivery.__table__
    with unit_of_work():
        found = db.session.scalars(sa.select(WebhookSubscription).order_by(
            WebhookSubscription.created_at)).all()
        counts = {(row.subscription_id, row.dead): row.n for row in db.session.execute(
            sa.select(table.c.subscription_id, table.c.dead_at.is_not(None).label("dead"),
                      sa.func.count().label("n"))
            .where(table.c.delivered_at.is_(None))
            .group_by(table.c.subscription_id, table.c.dead_at.is_not(None)))}
        for sub in found:
            click.echo(f"{sub.id}  client {sub.client_id}  {'active' if sub.active else 'paused'}"
                       f"  pending {counts.get((sub.id, False), 0)}"
                       f"  dead {counts.get((sub.id, True), 0)}"
                       f"  {','.join(sub.event_types or ())}  {sub.url}")
    click.echo(f"{len(found)} webhook(s).")


@webhooks.command("dead-letters")
@click.option("--webhook", "webhook_id", callback=_uuid, help="Only this webhook's.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10000))
def dead_letters(webhook_id: uuid.UUID | None, limit: int) -> None:
    """Deliveries that failed for a day: id, webhook, event type, attempts, last status or error."""
    with unit_of_work():
        found = services.dead_letters(db.session, subscription_id=webhook_id, limit=limit)
        for delivery in found:
            last = delivery.last_error or f"HTTP {delivery.last_status}"
            click.echo(f"{delivery.id}  webhook {delivery.subscription_id}  {delivery.event_type}"
                       f"  attempts {delivery.attempts}  dead since {delivery.dead_at:%Y-%m-%d %H:%M}"
                       f"  last {last}")
    click.echo(f"{len(found)} dead letter(s).")


@webhooks.command("redeliver")
@click.argument("delivery_ids", nargs=-1, callback=_uuid)
@click.option("--all", "all_dead", is_flag=True, help="Every dead letter (of --webhook, if given).")
@click.option("--webhook", "webhook_id", callback=_uuid, help="Only this webhook's dead letters.")
def redeliver(delivery_ids: tuple[uuid.UUID, ...], all_dead: bool,
              webhook_id: uuid.UUID | None) -> None:
    """Send dead letters again (by id, or --all): the worker retries them for another day."""
    with unit_of_work():
        try:
            count = services.redeliver(db.session, actor=cli_actor("webhooks redeliver"),
                                       delivery_ids=delivery_ids, subscription_id=webhook_id,
                                       all_dead=all_dead)
        except ValidationFailed as exc:
            raise click.UsageError(str(exc)) from None
    click.echo(f"{count} dead letter(s) queued for delivery again.")
