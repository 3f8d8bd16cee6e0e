"""What the request screens show, read from the register and the audit trail.

Read-only composition, so the views stay short: each queue row with how
urgent it is (in words, not only in colour), and a request's history as
its audit entries, with staff names looked up at read time (the trail
holds ids only).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable

from consentmgr.audit import actions
from consentmgr.audit.services import entries_for_customer
from consentmgr.requests.models import DataSubjectRequest
from consentmgr.staff.directory import staff_directory

# A request's life, as the audit trail records it.
HISTORY_ACTIONS = (
    actions.REQUEST_RECEIVED, actions.REQUEST_IDENTITY_VERIFIED, actions.REQUEST_STARTED,
    actions.REQUEST_EXTENDED, actions.REQUEST_COMPLETED, actions.REQUEST_REJECTED,
    actions.REQUEST_WITHDRAWN,
)

HISTORY_TEXT = {
    actions.REQUEST_RECEIVED: "Received",
    actions.REQUEST_IDENTITY_VERIFIED: "Identity checked",
    actions.REQUEST_STARTED: "Approved / taken up",
    actions.REQUEST_EXTENDED: "Deadline extended",
    actions.REQUEST_COMPLETED: "Completed",
    actions.REQUEST_REJECTED: "Refused",
    actions.REQUEST_WITHDRAWN: "Withdrawn",
}


@dataclass(frozen=True)
class Urgency:
    """How close a request is to its deadline, said in words."""

    level: str  # "overdue", "soon" or ""
    text: str


def urgency(req: DataSubjectRequest, *, now: dt.datetime, soon_days: int) -> Urgency:
    """Overdue, due within ``soon_days``, or neither (closed requests are never urgent)."""
    if not req.is_open:
        return Urgency("", "")
    left = req.deadline - now
    if left < dt.timedelta(0):
        days = -left.days
        return Urgency("overdue", f"Overdue by {days} day{'s' if days != 1 else ''}"
                       if days else "Overdue")
    if left <= dt.timedelta(days=soon_days):
        days = left.days
        return Urgency("soon", "Due today" if days == 0
                       else f"Due in {days} day{'s' if days != 1 else ''}")
    return Urgency("", "")


@dataclass(frozen=True)
class QueueRow:
    """One line of the queue."""

    request: DataSubjectRequest
    urgency: Urgency


def queue_rows(found: Iterable[DataSubjectRequest], *, now: dt.datetime,
               soon_days: int) -> list[QueueRow]:
    """The queue's rows, each with its urgency."""
    return [QueueRow(req, urgency(req, now=now, soon_days=soon_days)) for req in found]


@dataclass(frozen=True)
class HistoryItem:
    """One step of a request's history."""

    occurred_at: dt.datetime
    what: str
    who: str
    outcome: str
    details: dict


def request_history(req: DataSubjectRequest) -> list[HistoryItem]:
    """The request's audit entries, oldest first, with who acted."""
    entries = [e for e in entries_for_customer(req.customer_id, actions=HISTORY_ACTIONS)
               if (e.details or {}).get("request_id") == str(req.id)]
    names = staff_directory(e.actor_id for e in entries if e.actor_type == "staff")
    items = []
    for entry in reversed(entries):
        card = names.get(entry.actor_id)
        who = (f"{card.display_name} ({card.role.value})" if card
               else {"customer": "The customer", "api": "API client"}.get(
                   entry.actor_type, entry.actor_type))
        items.append(HistoryItem(entry.occurred_at, HISTORY_TEXT.get(entry.action, entry.action),
                                 who, entry.outcome, dict(entry.details or {})))
    return items
