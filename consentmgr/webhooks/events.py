"""Which changes are sent as which event types, and the fan-out from the change feed.

The worker reads the audit trail from the webhooks' own cursor, in the
order the change feed (``GET /api/v1/events``) serves it, and writes one
delivery per matching subscription in the same transaction as the cursor's
move: an event is never skipped and never fanned out twice, whichever
worker does it. No other area calls in here: whatever records a consent
change, a rectification, a request's transition or a publication in the
audit trail -- portal, staff screens, API, CLI, worker -- is sent.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from consentmgr.apiclients.models import ApiClient
from consentmgr.audit import actions
from consentmgr.audit import services as audit
from consentmgr.audit.models import AuditEntry
from consentmgr.consent.feed import feed_item
from consentmgr.sql import upsert
from consentmgr.webhooks.models import (
    WebhookCursor,
    WebhookDelivery,
    WebhookSubscription,
)

# Names shared with the audit trail (consentmgr/audit/actions.py holds every name of this shape).
CONSENT_CHANGED = actions.WEBHOOK_CONSENT_CHANGED
CUSTOMER_RECTIFIED = actions.CUSTOMER_RECTIFIED
CUSTOMER_RESTRICTED = actions.CUSTOMER_RESTRICTED
CUSTOMER_UNRESTRICTED = actions.CUSTOMER_UNRESTRICTED
CUSTOMER_ERASED = actions.CUSTOMER_ERASED
REQUEST_STATUS_CHANGED = actions.WEBHOOK_REQUEST_STATUS_CHANGED
POLICY_PUBLISHED = actions.POLICY_PUBLISHED

#: Every event type a subscription may ask for.
EVENT_TYPES = (CONSENT_CHANGED, CUSTOMER_RECTIFIED, CUSTOMER_RESTRICTED, CUSTOMER_UNRESTRICTED,
               CUSTOMER_ERASED, REQUEST_STATUS_CHANGED, POLICY_PUBLISHED)
#: Event types about a customer: sent only to clients that may read the change feed.
CUSTOMER_EVENT_TYPES = frozenset(EVENT_TYPES) - {POLICY_PUBLISHED}
CUSTOMER_EVENTS_SCOPE = "events:read"

_EVENT_OF = {
    actions.CONSENT_GRANTED: CONSENT_CHANGED,
    actions.CONSENT_WITHDRAWN: CONSENT_CHANGED,
    actions.CONSENT_REFUSED: CONSENT_CHANGED,
    actions.CONSENT_OBJECTED: CONSENT_CHANGED,
    actions.CONSENT_EXPIRED: CONSENT_CHANGED,
    actions.CUSTOMER_RECTIFIED: CUSTOMER_RECTIFIED,
    actions.CUSTOMER_RESTRICTED: CUSTOMER_RESTRICTED,
    actions.CUSTOMER_UNRESTRICTED: CUSTOMER_UNRESTRICTED,
    actions.CUSTOMER_ERASED: CUSTOMER_ERASED,
    **{action: REQUEST_STATUS_CHANGED for action in actions.FEED_ACTIONS
       if action.startswith(actions.REQUEST_PREFIX)},
    actions.POLICY_PUBLISHED: POLICY_PUBLISHED,
}
SOURCE_ACTIONS = tuple(_EVENT_OF)
CURSOR_NAME = "change-feed"
FAN_OUT_BATCH = 500

_CURSOR = WebhookCursor.__table__


def event_type_of(action: str) -> str | None:
    """The event type an audited action is sent as, or None."""
    return _EVENT_OF.get(action)


def event_payload(entry: Any, event_type: str) -> dict[str, Any]:
    """The JSON body of the event for audit ``entry``: ids and the change, no personal data.

    The same facts as the change feed's item (customer id, purpose slug,
    status, policy version, request id and type), or a publication's
    version, hash and effective date.
    """
    if event_type == POLICY_PUBLISHED:
        details = entry.details or {}
        data: dict[str, Any] = {"version": details.get("version"),
                                "sha256": details.get("sha256"),
                                "effective_date": details.get("effective_date")}
    else:
        item = feed_item(entry)
        data = {"change": item.type, "customer_id": str(item.customer_id)
                if item.customer_id else None, "purpose": item.purpose, "status": item.status,
                "policy_version": item.policy_version, "request_id": item.request_id,
                "request_type": item.request_type}
    data["cursor"] = entry.sequence
    return {"type": event_type, "timestamp": entry.occurred_at.isoformat(),
            "data": {key: value for key, value in data.items() if value is not None}}


def ensure_cursor(session: Session) -> None:
    """Start the cursor at the trail's head if it has none: events from now on are sent.

    Called when a subscription is registered, so its first events are never
    behind the cursor. Flushes.
    """
    head = session.scalar(sa.select(sa.func.max(AuditEntry.sequence))) or 0
    upsert(session, _CURSOR, {"name": CURSOR_NAME, "position": head}, key=["name"], update=[])


def _position(session: Session) -> int | None:
    return session.scalar(sa.select(_CURSOR.c.position).where(_CURSOR.c.name == CURSOR_NAME))


def _locked_position(session: Session) -> int:
    # An UPDATE first: it takes the row's lock (PostgreSQL) or the write lock
    # (SQLite) before the read, so two workers never fan out the same entries.
    session.execute(sa.update(_CURSOR).where(_CURSOR.c.name == CURSOR_NAME)
                    .values(position=_CURSOR.c.position),
                    execution_options={"synchronize_session": False})
    return int(session.scalar(sa.select(_CURSOR.c.position)
                              .where(_CURSOR.c.name == CURSOR_NAME)) or 0)


def _listeners(session: Session) -> list[Any]:
    """Active subscriptions of unrevoked clients: id, event types, since when, the client's scopes."""
    return list(session.execute(
        sa.select(WebhookSubscription.id, WebhookSubscription.event_types,
                  WebhookSubscription.created_at, ApiClient.scopes)
        .join(ApiClient, ApiClient.id == WebhookSubscription.client_id)
        .where(WebhookSubscription.active.is_(True), ApiClient.revoked_at.is_(None))))


def _wants(listener: Any, event_type: str, occurred_at: dt.datetime) -> bool:
    if event_type not in (listener.event_types or ()) or occurred_at < listener.created_at:
        return False
    # Customer events carry what GET /events does: only for clients allowed to read it.
    return event_type not in CUSTOMER_EVENT_TYPES or CUSTOMER_EVENTS_SCOPE in (listener.scopes
                                                                              or ())


def _skip(session: Session, position: int, batch: int) -> FanOut:
    """No subscription wants anything: move the cursor past the next ``batch`` entries unread.

    As a pass with subscriptions does for the entries none of them wants,
    without loading them (most installations have no subscription, and the
    worker would otherwise read every audited change). A subscription
    registered later gets the changes that occur after it, as always.
    """
    window = (sa.select(AuditEntry.sequence).where(AuditEntry.sequence > position)
              .order_by(AuditEntry.sequence).limit(batch).subquery())
    count, last = session.execute(
        sa.select(sa.func.count(), sa.func.max(window.c.sequence))).one()
    if not count:
        return FanOut(0, 0)
    session.execute(sa.update(_CURSOR).where(_CURSOR.c.name == CURSOR_NAME).values(position=last),
                    execution_options={"synchronize_session": False})
    return FanOut(int(count), 0)


@dataclass(frozen=True)
class FanOut:
    """What one fan-out did: feed entries read past, deliveries written."""

    entries: int
    deliveries: int


def fan_out(session: Session, *, now: dt.datetime, batch: int = FAN_OUT_BATCH) -> FanOut:
    """Write the deliveries of the next ``batch`` feed entries and move the cursor past them.

    Flushes; the caller's unit of work commits (the deliveries with the
    cursor's move, or neither).
    """
    seen = _position(session)
    if seen is None:
        ensure_cursor(session)
    # A look without a lock first: an idle pass, several times a second, writes nothing
    # (no SQLite write lock taken from the web's writers, no dead row versions on PostgreSQL).
    elif not audit.feed_entries(after=seen, limit=1, actions=SOURCE_ACTIONS):
        return FanOut(0, 0)
    position = _locked_position(session)
    listeners = _listeners(session)
    if not listeners:
        return _skip(session, position, batch)
    entries = audit.feed_entries(after=position, limit=batch, actions=SOURCE_ACTIONS)
    if not entries:
        return FanOut(0, 0)
    rows = []
    for entry in entries:
        event_type = event_type_of(entry.action)
        wanting = [listener for listener in listeners
                   if event_type is not None and _wants(listener, event_type, entry.occurred_at)]
        if not wanting:
            continue
        payload = event_payload(entry, event_type)
        rows += [WebhookDelivery(subscription_id=listener.id, event_type=event_type,
                                 cursor=entry.sequence, payload=payload, created_at=now,
                                 retry_from=now, next_attempt_at=now, attempts=0)
                 for listener in wanting]
    session.add_all(rows)
    session.execute(sa.update(_CURSOR).where(_CURSOR.c.name == CURSOR_NAME)
                    .values(position=entries[-1].sequence),
                    execution_options={"synchronize_session": False})
    session.flush()
    return FanOut(len(entries), len(rows))
