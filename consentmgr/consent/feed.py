"""The change feed: what downstream systems must apply, in order (``GET /api/v1/events``).

Built from the audit trail through :func:`consentmgr.audit.services.feed_entries`:
the cursor is the audit sequence number, and the consent area never reads
audit entries itself.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from consentmgr.audit import services as audit
from consentmgr.audit.actions import FEED_ACTIONS

__all__ = ["FEED_ACTIONS", "FeedItem", "change_feed"]


@dataclass(frozen=True)
class FeedItem:
    """One change downstream systems must apply. No personal data."""

    cursor: int
    type: str
    customer_id: uuid.UUID | None
    occurred_at: dt.datetime
    purpose: str | None
    status: str | None
    policy_version: str | None


def change_feed(after: int = 0, limit: int = 100) -> list[FeedItem]:
    """Changes with a cursor greater than ``after``, oldest first.

    The cursor is the audit sequence number: appends are serialised and
    committed in sequence order, so a reader polling with its last cursor
    never misses a change that commits later.
    """
    items = []
    for entry in audit.feed_entries(after=after, limit=limit, actions=FEED_ACTIONS):
        details = entry.details or {}
        items.append(FeedItem(cursor=entry.sequence, type=entry.action,
                              customer_id=entry.subject_id, occurred_at=entry.occurred_at,
                              purpose=details.get("purpose"), status=details.get("status"),
                              policy_version=details.get("policy_version")))
    return items
