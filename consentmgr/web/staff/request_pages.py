"""What the request screens show, read from the register and the audit trail.

Read-only composition, so the views stay short: each queue row with how
urgent it is (in words, not only in colour), a request's history as its
audit entries, with staff names looked up at read time (the trail holds ids
only), and the services' messages about bad input in the page's language.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable

from consentmgr.audit import actions
from consentmgr.audit.services import entries_for_customer
from consentmgr.i18n import _, lazy_gettext, ngettext
from consentmgr.requests.models import DataSubjectRequest
from consentmgr.staff.directory import staff_directory
from consentmgr.web.staff.forms import ROLE_LABELS

# A request's life, as the audit trail records it.
HISTORY_ACTIONS = (
    actions.REQUEST_RECEIVED, actions.REQUEST_IDENTITY_VERIFIED, actions.REQUEST_STARTED,
    actions.REQUEST_EXTENDED, actions.REQUEST_COMPLETED, actions.REQUEST_REJECTED,
    actions.REQUEST_WITHDRAWN,
)

HISTORY_TEXT = {
    actions.REQUEST_RECEIVED: lazy_gettext("Received"),
    actions.REQUEST_IDENTITY_VERIFIED: lazy_gettext("Identity checked"),
    actions.REQUEST_STARTED: lazy_gettext("Approved / taken up"),
    actions.REQUEST_EXTENDED: lazy_gettext("Deadline extended"),
    actions.REQUEST_COMPLETED: lazy_gettext("Completed"),
    actions.REQUEST_REJECTED: lazy_gettext("Refused"),
    actions.REQUEST_WITHDRAWN: lazy_gettext("Withdrawn"),
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
        return Urgency("overdue", ngettext("Overdue by %(num)d day", "Overdue by %(num)d days",
                                           days) if days else _("Overdue"))
    if left <= dt.timedelta(days=soon_days):
        days = left.days
        return Urgency("soon", _("Due today") if days == 0
                       else ngettext("Due in %(num)d day", "Due in %(num)d days", days))
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
        who = (_("%(name)s (%(role)s)", name=card.display_name, role=ROLE_LABELS[card.role])
               if card
               else {"customer": _("The customer"), "api": _("API client")}.get(
                   entry.actor_type, entry.actor_type))
        items.append(HistoryItem(entry.occurred_at, HISTORY_TEXT.get(entry.action, entry.action),
                                 who, entry.outcome, dict(entry.details or {})))
    return items


# What the request and breach services answer to bad input on these screens. The
# services speak English, as the API's problem details do; the staff screens show
# these in the page's language (any other message as it came). Listed here so that
# the catalogue holds them: a message changed in a service shows in English until
# it is listed again.
SERVICE_MESSAGES = (
    lazy_gettext("This is required."),
    lazy_gettext("Enter text."),
    lazy_gettext("Keep this to 500 characters or fewer."),
    lazy_gettext("Keep this to 2000 characters or fewer."),
    lazy_gettext("Keep this to 4000 characters or fewer."),
    lazy_gettext("Unknown type: choose from access, portability, rectification, erasure, "
                 "restriction, objection."),
    lazy_gettext("Unknown reason code: choose from identity-not-verified, manifestly-unfounded, "
                 "legal-obligation, legal-claims, other."),
    lazy_gettext("Only an objection names a purpose."),
    lazy_gettext("Name the purpose you object to."),
    lazy_gettext("No purpose with that name in the policy in effect."),
    lazy_gettext("You can object only to a purpose based on legitimate interest; for one based "
                 "on consent, withdraw your consent instead."),
    lazy_gettext("Extend by 1 or 2 months."),
    lazy_gettext("At most 2 further months in total (three months after receipt)."),
    lazy_gettext("Choose the exception: legal-obligation (Art. 17(3)(b)) or legal-claims "
                 "(Art. 17(3)(e))."),
    lazy_gettext("Use a number of days from 0 to 366."),
    lazy_gettext("Enter a date and time such as 2026-11-28 09:30."),
    lazy_gettext("Enter a date and time such as 2026-11-28 17:00."),
    lazy_gettext("This cannot be in the future."),
    lazy_gettext("This cannot be before the breach was discovered."),
    lazy_gettext("Enter a whole number from 0 to 100,000,000 (your best estimate)."),
    lazy_gettext("Choose whether the people affected must be told."),
    lazy_gettext("No staff account has this email address or id."),
    lazy_gettext("The end of the window must be after its start."),
)


