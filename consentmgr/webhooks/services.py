"""Subscriptions (register, list, change, delete, rotate the secret) and dead letters.

Also the webhooks area's public face: it re-exports what the audiences and
the worker use (the event types, the worker's loop, its settings).

Services take the session's unit of work and an actor, write their audit
entry (ids and counts: never the URL or the secret), flush, and leave the
commit to the boundary. A subscription belongs to the API client that
registered it; another client's is "not found".
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from consentmgr.actors import Actor
from consentmgr.apiclients.auth import ScopeMissing
from consentmgr.audit import actions
from consentmgr.audit import services as audit
from consentmgr.crypto.webhook_signing import generate_secret
from consentmgr.errors import NotFound, ValidationFailed
from consentmgr.keys.services import destroy_data_keys
from consentmgr.sql import as_uuid, utcnow
from consentmgr.webhooks.delivery import (
    DeliverySettings,
    delivery_settings,
    purge_settled,
)
from consentmgr.webhooks.dispatcher import WebhookDispatcher, WebhookRun
from consentmgr.webhooks.events import (
    CUSTOMER_EVENT_TYPES,
    CUSTOMER_EVENTS_SCOPE,
    EVENT_TYPES,
    ensure_cursor,
    fan_out,
)
from consentmgr.webhooks.models import MAX_URL, WebhookDelivery, WebhookSubscription
from consentmgr.webhooks.targets import (
    ForbiddenTarget,
    Resolver,
    check_url,
    system_resolver,
)

__all__ = [
    "EVENT_TYPES", "MAX_URL", "ROTATION_OVERLAP", "DeliverySettings", "ForbiddenTarget", "Issued",
    "WebhookDelivery", "WebhookDispatcher", "WebhookNotFound", "WebhookRun",
    "WebhookSubscription", "check_url", "clean_event_types", "dead_letters", "delete_webhook",
    "delivery_settings", "fan_out", "get_webhook", "list_webhooks", "purge_settled", "redeliver",
    "register_webhook", "rotate_secret", "update_webhook",
]

#: After a rotation the old secret also signs for a day, so receivers can switch over.
ROTATION_OVERLAP = dt.timedelta(hours=24)
MAX_SUBSCRIPTIONS_PER_CLIENT = 20


class WebhookNotFound(NotFound):
    """No webhook with that id for this client."""

    def __init__(self) -> None:
        super().__init__("No webhook with that id for this API client.")


@dataclass(frozen=True)
class Issued:
    """A subscription and its secret, in the clear this once (shown to the client once)."""

    subscription: WebhookSubscription
    secret: str


def clean_event_types(event_types: object, scopes: Iterable[str]) -> list[str]:
    """The event types asked for, in canonical order; a 422 naming unknown ones, a 403 for
    customer events without ``events:read``."""
    if isinstance(event_types, str) or not isinstance(event_types, (list, tuple)) or not all(
            isinstance(name, str) for name in event_types):
        raise ValidationFailed({"event_types": ["Give a list of event types."]})
    unknown = sorted(set(event_types) - set(EVENT_TYPES))
    if unknown:
        raise ValidationFailed({"event_types": [
            f"Unknown event type(s): {', '.join(unknown)}. Choose from: {', '.join(EVENT_TYPES)}."]})
    if not event_types:
        raise ValidationFailed({"event_types": [
            f"Give at least one event type from: {', '.join(EVENT_TYPES)}."]})
    if set(event_types) & CUSTOMER_EVENT_TYPES and CUSTOMER_EVENTS_SCOPE not in set(scopes):
        # They carry what GET /events does: the same scope.
        raise ScopeMissing(CUSTOMER_EVENTS_SCOPE)
    return [name for name in EVENT_TYPES if name in event_types]


def register_webhook(session: Session, client_id: uuid.UUID, url: object, event_types: object, *,
                     scopes: Iterable[str], actor: Actor, allow_private: bool,
                     resolve: Resolver = system_resolver) -> Issued:
    """A new active subscription with a fresh secret. Flushes.

    Bad input (a URL that is not http(s), too long, or resolving to a
    forbidden address; unknown event types) raises before anything is written.
    """
    check_url(url, allow_private=allow_private, resolve=resolve)
    types = clean_event_types(event_types, scopes)
    count = session.scalar(sa.select(sa.func.count()).select_from(WebhookSubscription)
                           .where(WebhookSubscription.client_id == client_id)) or 0
    if count >= MAX_SUBSCRIPTIONS_PER_CLIENT:
        raise ValidationFailed({"url": [
            f"At most {MAX_SUBSCRIPTIONS_PER_CLIENT} webhooks per API client."]})
    now = utcnow()
    secret = generate_secret()
    subscription = WebhookSubscription(id=uuid.uuid4(), client_id=client_id, url=url,
                                       event_types=types, active=True, created_at=now,
                                       updated_at=now)
    subscription.secret = secret
    session.add(subscription)
    ensure_cursor(session)
    session.flush()
    audit.record(actions.WEBHOOK_REGISTERED, actor=actor,
                 details={"webhook_id": str(subscription.id), "event_types": len(types)})
    return Issued(subscription, secret)


def list_webhooks(session: Session, client_id: uuid.UUID) -> list[WebhookSubscription]:
    """The client's subscriptions, oldest first."""
    return list(session.scalars(
        sa.select(WebhookSubscription).where(WebhookSubscription.client_id == client_id)
        .order_by(WebhookSubscription.created_at, WebhookSubscription.id)))


def get_webhook(session: Session, client_id: uuid.UUID, webhook_id: object) -> WebhookSubscription:
    """The client's subscription ``webhook_id``; :class:`WebhookNotFound` otherwise."""
    key = as_uuid(webhook_id)
    subscription = session.get(WebhookSubscription, key) if key is not None else None
    if subscription is None or subscription.client_id != client_id:
        raise WebhookNotFound()
    return subscription


def update_webhook(session: Session, subscription: WebhookSubscription, *, scopes: Iterable[str],
                   actor: Actor, allow_private: bool, url: object = None,
                   event_types: object = None, active: bool | None = None,
                   resolve: Resolver = system_resolver) -> WebhookSubscription:
    """Change the URL, the event types or the active flag (what is given). Flushes."""
    if url is not None:
        check_url(url, allow_private=allow_private, resolve=resolve)
    types = clean_event_types(event_types, scopes) if event_types is not None else None
    changed = []
    if url is not None and url != subscription.url:
        subscription.url = url
        changed.append("url")
    if types is not None and types != list(subscription.event_types or ()):
        subscription.event_types = types
        changed.append("event_types")
    if active is not None and active != subscription.active:
        subscription.active = active
        changed.append("active")
    if changed:
        subscription.updated_at = utcnow()
        session.flush()
        audit.record(actions.WEBHOOK_UPDATED, actor=actor, fields=changed,
                     details={"webhook_id": str(subscription.id), "active": subscription.active})
    return subscription


def rotate_secret(session: Session, subscription: WebhookSubscription, *, actor: Actor,
                  now: dt.datetime | None = None) -> str:
    """A new secret; the old one keeps signing beside it for :data:`ROTATION_OVERLAP`. Flushes."""
    now = now or utcnow()
    secret = generate_secret()
    subscription.previous_secret = subscription.secret
    subscription.previous_secret_until = now + ROTATION_OVERLAP
    subscription.secret = secret
    subscription.updated_at = now
    session.flush()
    audit.record(actions.WEBHOOK_SECRET_ROTATED, actor=actor,
                 details={"webhook_id": str(subscription.id)})
    return secret


def delete_webhook(session: Session, subscription: WebhookSubscription, *, actor: Actor) -> None:
    """Delete the subscription and its deliveries; its secrets' data key is destroyed. Flushes."""
    subscription_id = subscription.id
    session.execute(sa.delete(WebhookDelivery).where(
        WebhookDelivery.subscription_id == subscription_id),
        execution_options={"synchronize_session": False})
    session.delete(subscription)
    session.flush()
    destroy_data_keys(session, subscription_id)
    audit.record(actions.WEBHOOK_DELETED, actor=actor, details={"webhook_id": str(subscription_id)})


def dead_letters(session: Session, *, subscription_id: uuid.UUID | None = None,
                 limit: int = 100) -> list[WebhookDelivery]:
    """Dead-lettered deliveries, most recent first."""
    query = sa.select(WebhookDelivery).where(WebhookDelivery.dead_at.is_not(None))
    if subscription_id is not None:
        query = query.where(WebhookDelivery.subscription_id == subscription_id)
    return list(session.scalars(query.order_by(WebhookDelivery.dead_at.desc()).limit(limit)))


def redeliver(session: Session, *, actor: Actor, delivery_ids: Iterable[uuid.UUID] = (),
              subscription_id: uuid.UUID | None = None, all_dead: bool = False,
              now: dt.datetime | None = None) -> int:
    """Send dead-lettered deliveries again, with a fresh day of retries; how many. Flushes.

    Names the deliveries (``delivery_ids``), or every dead letter
    (``all_dead``), optionally of one subscription. Only dead letters are
    touched: a delivered or pending one stays as it is.
    """
    ids = list(delivery_ids)
    if not ids and not all_dead:
        message = "Name the deliveries to send again, or ask for all dead letters."
        raise ValidationFailed({"deliveries": [message]})
    now = now or utcnow()
    table = WebhookDelivery.__table__
    condition = table.c.dead_at.is_not(None)
    if ids:
        condition = sa.and_(condition, table.c.id.in_(ids))
    if subscription_id is not None:
        condition = sa.and_(condition, table.c.subscription_id == subscription_id)
    result = session.execute(
        sa.update(table).where(condition).values(dead_at=None, claimed_until=None, retry_from=now,
                                                 next_attempt_at=now, attempts=0),
        execution_options={"synchronize_session": False})
    count = int(result.rowcount or 0)
    if count:
        audit.record(actions.WEBHOOK_REDELIVERED, actor=actor, details={"deliveries": count})
    return count
