"""The change feed: what downstream systems must apply, in order (``GET /api/v1/events``).

Built from the audit trail through :func:`consentmgr.audit.services.feed_entries`:
the cursor is the audit sequence number, and the consent area never reads
audit entries itself. Besides consent changes it carries what GDPR Art. 19
asks recipients to be told of — rectification, restriction, erasure — and
every transition of a data-subject request; those items name the request
(``request_id``, ``request_type``) when the audit entry does.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, Mapping

from consentmgr.audit import services as audit
from consentmgr.audit.actions import FEED_ACTIONS, REQUEST_PREFIX

__all__ = ["FEED_ACTIONS", "FeedItem", "change_feed", "feed_item"]


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
    request_id: str | None = None
    request_type: str | None = None


def _request_fields(action: str, details: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The request an entry belongs to: ``(request_id, request_type)``, or ``(None, None)``.

    A request's own transitions (``request.*``) name it as ``request_id``
    and ``type``; another entry made while handling one (a rectification,
    say) as ``request_id`` and ``request_type``.
    """
    request_id = details.get("request_id")
    if request_id is None:
        return None, None
    kind = details.get("type") if action.startswith(REQUEST_PREFIX) else details.get("request_type")
    return str(request_id), (str(kind) if kind is not None else None)


def feed_item(entry: Any) -> FeedItem:
    """The feed item for one audit entry of :data:`FEED_ACTIONS`."""
    details = entry.details or {}
    request_id, request_type = _request_fields(entry.action, details)
    return FeedItem(cursor=entry.sequence, type=entry.action, customer_id=entry.subject_id,
                    occurred_at=entry.occurred_at, purpose=details.get("purpose"),
                    status=details.get("status"), policy_version=details.get("policy_version"),
                    request_id=request_id, request_type=request_type)


def change_feed(after: int = 0, limit: int = 100) -> list[FeedItem]:
    """Changes with a cursor greater than ``after``, oldest first.

    The cursor is the audit sequence number: appends are serialised and
    committed in sequence order, so a reader polling with its last cursor
    never misses a change that commits later.
    """
    return [feed_item(entry)
            for entry in audit.feed_entries(after=after, limit=limit, actions=FEED_ACTIONS)]
