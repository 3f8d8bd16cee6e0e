"""What the staff home shows each role: the agent's recent work, the DPO's "needs attention today".

Everything comes from services (the audit trail, the request register, the
breach register); this module only picks what each role's start page needs.
Nothing here decrypts a customer's data: recent work is listed by customer
id and time, and opening a record from it is audited as usual.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from consentmgr.audit import actions
from consentmgr.audit import services as audit
from consentmgr.breaches import services as breaches
from consentmgr.requests import services as requests
from consentmgr.sql import utcnow
from consentmgr.staff.permissions import Permission, can
from consentmgr.web.staff.request_pages import queue_rows

RECENT_CUSTOMERS = 8
SOON_DAYS = 7  # as the request queue highlights them
ANOMALY_DAYS = 7  # refused screens and failed sign-ins counted over the last week


@dataclass(frozen=True)
class RecentCustomer:
    """A customer record this staff member opened, and when they last did."""

    customer_id: str
    opened_at: dt.datetime


@dataclass
class StartPage:
    """The parts of the staff home for one staff member (empty lists for other roles)."""

    recent: list[RecentCustomer] = field(default_factory=list)
    overdue: list[Any] = field(default_factory=list)
    soon: list[Any] = field(default_factory=list)
    open_breaches: list[Any] = field(default_factory=list)
    denied: int = 0
    failed_sign_ins: int = 0
    anomaly_since: dt.date | None = None
    has_dashboard: bool = False

    @property
    def all_clear(self) -> bool:
        """Nothing the DPO must act on today."""
        return not (self.overdue or self.soon or self.open_breaches)


def recent_customers(staff_id: str, *, limit: int = RECENT_CUSTOMERS) -> list[RecentCustomer]:
    """The customer records ``staff_id`` opened last, each once, newest first."""
    seen: dict[str, RecentCustomer] = {}
    for entry in audit.search_entries(actor_id=staff_id, action=actions.CUSTOMER_VIEW, limit=200):
        key = str(entry.subject_id)
        if entry.subject_id is not None and key not in seen:
            seen[key] = RecentCustomer(key, entry.occurred_at)
            if len(seen) == limit:
                break
    return list(seen.values())


def start_page(staff_id: str, role: str, *, now: dt.datetime | None = None) -> StartPage:
    """What ``staff_id`` (with ``role``) sees on the staff home."""
    now = now or utcnow()
    page = StartPage(has_dashboard="staff.dashboard" in current_app.view_functions)
    if can(role, Permission.CUSTOMERS):
        page.recent = recent_customers(staff_id)
    if can(role, Permission.REQUESTS_DECIDE):
        late, soon = requests.overdue_requests(within_days=SOON_DAYS, now=now)
        page.overdue = queue_rows(late, now=now, soon_days=SOON_DAYS)
        page.soon = queue_rows(soon, now=now, soon_days=SOON_DAYS)
    if can(role, Permission.BREACHES):
        page.open_breaches = [(b, breaches.countdown(b, now)) for b in breaches.open_breaches()]
    if can(role, Permission.AUDIT):
        since = (now - dt.timedelta(days=ANOMALY_DAYS)).date()
        page.anomaly_since = since
        page.denied = audit.count_entries(action=actions.STAFF_ACCESS_DENIED, since=since)
        page.failed_sign_ins = audit.count_entries(action=actions.STAFF_SIGN_IN_FAILED,
                                                   since=since)
    return page
