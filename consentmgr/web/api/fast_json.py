"""The consent check's hand-written JSON: the hot path skips marshmallow where it is safe.

The schemas in :mod:`consentmgr.web.api.schemas` still document these
operations (and schemathesis checks answers against them); this module only
does the same work faster for the common case:

* :func:`plain_checks` accepts a bulk-check body only when it has exactly the
  plain shape every well-formed client sends (canonical UUIDs, slugs). Any
  other body returns ``None``, and the caller parses it with the schema, so
  every error message stays the schema's own. Marshmallow took ~75 µs per
  pair, most of a 1,000-pair call (``benchmarks/million.py``).
* :func:`decision_document` writes a decision as the schema would dump it,
  and :func:`event_document` a recorded consent event (the write's answer).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from consentmgr.web.api.schemas import MAX_CONSENT_CHECKS

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_MAX_SLUG = 64


def plain_checks(body: Any) -> list[tuple[uuid.UUID, str]] | None:
    """The pairs of ``{"checks": [{"customer_id": ..., "purpose": ...}, ...]}``, or None.

    None for anything but that exact shape with 1 to 1,000 items, canonical
    UUID strings and purpose slugs: a strict subset of what the schema
    accepts, so a body taken here means what it means there.
    """
    if type(body) is not dict or len(body) != 1:
        return None
    checks = body.get("checks")
    if type(checks) is not list or not 1 <= len(checks) <= MAX_CONSENT_CHECKS:
        return None
    pairs = []
    for item in checks:
        if type(item) is not dict or len(item) != 2:
            return None
        customer, purpose = item.get("customer_id"), item.get("purpose")
        if (type(customer) is not str or type(purpose) is not str or len(purpose) > _MAX_SLUG
                or not _UUID.fullmatch(customer) or not _SLUG.fullmatch(purpose)):
            return None
        pairs.append((uuid.UUID(customer), purpose))
    return pairs


def decision_document(decision: Any) -> dict[str, Any]:
    """A :class:`~consentmgr.consent.checks.ConsentDecision` as the decision schema dumps it."""
    updated = decision.updated_at.isoformat() if decision.updated_at is not None else None
    expires = decision.expires_at.isoformat() if decision.expires_at is not None else None
    return {"customer_id": str(decision.customer_id), "purpose": decision.purpose,
            "allowed": decision.allowed, "status": decision.status,
            "policy_version": decision.policy_version, "reason": decision.reason,
            "updated_at": updated, "expires_at": expires}


def event_document(event: Any) -> dict[str, Any]:
    """A recorded :class:`~consentmgr.consent.models.ConsentEvent` as ``ConsentEventSchema`` dumps it."""
    collected = event.collected_at.isoformat() if event.collected_at is not None else None
    return {"event_id": str(event.id), "customer_id": str(event.customer_id),
            "purpose": event.purpose, "action": event.action.value, "status": event.status.value,
            "channel": event.channel.value, "policy_version": event.policy_version,
            "notice_hash": event.notice_hash, "language": event.language,
            "recorded_at": event.occurred_at.isoformat(), "collected_at": collected,
            "cursor": event.feed_cursor}


def unknown_document(customer_id: uuid.UUID, purpose: str, reason: str) -> dict[str, Any]:
    """A bulk-check result for a pair naming an unknown customer or purpose."""
    return {"customer_id": str(customer_id), "purpose": purpose, "allowed": False,
            "status": "unknown", "policy_version": None, "reason": reason, "updated_at": None,
            "expires_at": None}
