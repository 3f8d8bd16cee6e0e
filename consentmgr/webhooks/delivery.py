"""Sending deliveries: claim the due ones, sign, POST, and record the answer.

Each attempt is three short steps, so no transaction stays open while a
receiver answers: claim (a lease on the row, ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL so several workers pass over each other's rows), send (outside
any transaction, to the address the SSRF check just approved), record (only
if the lease is still ours). A 2xx answer delivers; anything else -- another
status, a redirect (never followed), a timeout, a refused connection, a
target that now resolves to a forbidden address -- is retried with
exponential backoff and full jitter for :data:`RETRY_WINDOW` after the
event, then the delivery is dead-lettered: kept, listed by ``flask webhooks
dead-letters`` and sent again by ``flask webhooks redeliver``.

Messages follow Standard Webhooks: ``webhook-id`` (the same on every
attempt, for the receiver to deduplicate), ``webhook-timestamp`` (Unix
seconds) and ``webhook-signature`` (``v1,<base64 HMAC-SHA256>`` of
``id.timestamp.body``; one per secret while a rotated secret is still
honoured). The log says which delivery and subscription, the outcome and
the status: never the URL, the body or a secret.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import logging
import random
import socket
import ssl
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from consentmgr.crypto.webhook_signing import sign
from consentmgr.webhooks.models import WebhookDelivery, WebhookSubscription
from consentmgr.webhooks.targets import (
    Resolver,
    Target,
    check_url,
    system_resolver,
)

log = logging.getLogger(__name__)

RETRY_WINDOW = dt.timedelta(hours=24)
BACKOFF_BASE = dt.timedelta(seconds=10)
BACKOFF_MAX = dt.timedelta(hours=4)
DEFAULT_TIMEOUT = 10.0
DEFAULT_LEASE = dt.timedelta(minutes=2)
CLAIM_BATCH = 20
MAX_ANSWER = 64 * 1024  # read and dropped: the receiver's body is not kept
USER_AGENT = "consentmgr-webhooks/1"

_TABLE = WebhookDelivery.__table__


@dataclass(frozen=True)
class DeliverySettings:
    """How deliveries are made (``CONSENTMGR_WEBHOOKS_*``)."""

    allow_private: bool = False
    timeout: float = DEFAULT_TIMEOUT
    lease: dt.timedelta = DEFAULT_LEASE


def delivery_settings(config: Mapping[str, Any]) -> DeliverySettings:
    """The settings from an app's config (the boundary passes them in)."""
    timeout = float(config.get("WEBHOOKS_TIMEOUT_SECONDS", DEFAULT_TIMEOUT))
    # The lease outlasts the slowest answer (connect and response may each take the
    # timeout), so no other worker takes a delivery over while it is being sent.
    lease = max(DEFAULT_LEASE, dt.timedelta(seconds=2 * timeout + 30))
    return DeliverySettings(allow_private=bool(config.get("WEBHOOKS_ALLOW_PRIVATE", False)),
                            timeout=timeout, lease=lease)


@dataclass(frozen=True)
class Claimed:
    """A delivery leased for one attempt."""

    id: uuid.UUID
    attempt: int


@dataclass(frozen=True)
class Message:
    """A signed message ready to go: where, what, and its headers."""

    target: Target
    body: bytes
    headers: dict[str, str]


Sender = Callable[[Message, float], int]


def message_id(delivery_id: uuid.UUID) -> str:
    """The ``webhook-id`` of a delivery."""
    return f"msg_{delivery_id.hex}"


def backoff(attempt: int, rng: random.Random | None = None) -> dt.timedelta:
    """The wait after failed ``attempt``: 10 s doubled per attempt (at most 4 h), full jitter.

    Full jitter (a uniform draw up to the exponential bound, but at least
    half of it) spreads the retries of many deliveries that failed together,
    so a receiver coming back is not hit by all of them at once.
    """
    bound = min(BACKOFF_BASE * (2 ** max(attempt - 1, 0)), BACKOFF_MAX)
    return bound * (rng or random).uniform(0.5, 1.0)


def _due(now: dt.datetime) -> sa.ColumnElement[bool]:
    return sa.and_(_TABLE.c.delivered_at.is_(None), _TABLE.c.dead_at.is_(None),
                   _TABLE.c.next_attempt_at <= now,
                   sa.or_(_TABLE.c.claimed_until.is_(None), _TABLE.c.claimed_until < now))


def claim_due(session: Session, *, now: dt.datetime, lease: dt.timedelta,
              limit: int = CLAIM_BATCH) -> list[Claimed]:
    """Lease up to ``limit`` due deliveries of active subscriptions. Flushes."""
    active = sa.select(WebhookSubscription.id).where(WebhookSubscription.active.is_(True))
    candidates = (sa.select(_TABLE.c.id)
                  .where(_due(now), _TABLE.c.subscription_id.in_(active))
                  .order_by(_TABLE.c.next_attempt_at).limit(limit))
    if session.get_bind(clause=_TABLE).dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True, of=_TABLE)
    claimed = []
    for delivery_id in session.scalars(candidates).all():
        # On PostgreSQL the row is locked already; on SQLite the WHERE is the lock.
        taken = session.execute(
            sa.update(_TABLE).where(_TABLE.c.id == delivery_id, _due(now))
            .values(claimed_until=now + lease, attempts=_TABLE.c.attempts + 1)
            .returning(_TABLE.c.attempts),
            execution_options={"synchronize_session": False}).first()
        if taken is not None:
            claimed.append(Claimed(delivery_id, taken.attempts))
    return claimed


def prepare(session: Session, claim: Claimed, *, now: dt.datetime, allow_private: bool,
            resolve: Resolver = system_resolver) -> Message:
    """The signed message for a claimed delivery; :class:`ForbiddenTarget` if its URL is not
    (or no longer) allowed."""
    delivery = session.get(WebhookDelivery, claim.id)
    subscription = session.get(WebhookSubscription, delivery.subscription_id)
    target = check_url(subscription.url, allow_private=allow_private, resolve=resolve)
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    msg_id = message_id(delivery.id)
    timestamp = int(now.timestamp())
    return Message(target=target, body=body, headers={
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(subscription.signing_secrets(now), msg_id, timestamp, body),
    })


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to the address the SSRF check approved, whatever DNS says now."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to the approved address; the certificate is checked against the URL's host name."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout,
                         context=ssl.create_default_context())
        self._address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def http_send(message: Message, timeout: float) -> int:
    """POST ``message``; the receiver's status. Redirects are answers, never followed."""
    target = message.target
    kind = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = kind(target, timeout)
    try:
        connection.putrequest("POST", target.path, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", target.host_header)
        for name, value in {**message.headers, "Content-Length": str(len(message.body))}.items():
            connection.putheader(name, value)
        connection.endheaders(message.body)
        response = connection.getresponse()
        response.read(MAX_ANSWER)
        return response.status
    finally:
        connection.close()


@dataclass(frozen=True)
class Outcome:
    """How one attempt ended: ``delivered``, ``retry``, ``dead`` or ``lost`` (lease gone)."""

    delivery_id: uuid.UUID
    result: str
    status: int | None
    error: str | None


def record(session: Session, claim: Claimed, *, now: dt.datetime, status: int | None,
           error: str | None, rng: random.Random | None = None) -> Outcome:
    """Settle an attempt: delivered on a 2xx, else the next try or the dead-letter. Flushes."""
    held = sa.and_(_TABLE.c.id == claim.id, _TABLE.c.attempts == claim.attempt,
                   _TABLE.c.delivered_at.is_(None), _TABLE.c.dead_at.is_(None))
    values: dict[str, Any] = {"claimed_until": None, "last_status": status,
                              "last_error": error[:64] if error else None}
    if error is None and status is not None and 200 <= status < 300:
        result = "delivered"
        values["delivered_at"] = now
    else:
        retry_from = session.scalar(sa.select(_TABLE.c.retry_from).where(_TABLE.c.id == claim.id))
        next_at = now + backoff(claim.attempt, rng)
        if retry_from is None or next_at > retry_from + RETRY_WINDOW:
            result = "dead"
            values["dead_at"] = now
        else:
            result = "retry"
            values["next_attempt_at"] = next_at
    settled = session.execute(sa.update(_TABLE).where(held).values(**values),
                              execution_options={"synchronize_session": False})
    if settled.rowcount != 1:
        result = "lost"
    return Outcome(claim.id, result, status, error)


KEEP_DELIVERED = dt.timedelta(days=7)
KEEP_DEAD = dt.timedelta(days=30)


def purge_settled(session: Session, *, now: dt.datetime, keep_delivered: dt.timedelta = KEEP_DELIVERED,
                  keep_dead: dt.timedelta = KEEP_DEAD) -> int:
    """Delete deliveries delivered over a week ago and dead letters over a month old; how many.

    Like settled jobs: kept long enough to look into, then gone. Flushes.
    """
    result = session.execute(
        sa.delete(_TABLE).where(sa.or_(_TABLE.c.delivered_at < now - keep_delivered,
                                       _TABLE.c.dead_at < now - keep_dead)),
        execution_options={"synchronize_session": False})
    return int(result.rowcount or 0)
