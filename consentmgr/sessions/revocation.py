"""An erased customer, or a deactivated staff member, loses every session at once.

Erasure and deactivation happen in several places (the staff screens, the
API, the retention job, the CLI), and the customers and staff areas know
nothing of sessions. So the sessions area watches the flush that writes the
change and ends the owner's sessions in the same transaction: they end
exactly when the erasure or deactivation commits, and not if it rolls back.
(Each request also re-reads the account or customer, so a session could not
act anyway; this makes the table tell the truth, and the staff page too.)
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from consentmgr.customers.models import Customer, CustomerStatus
from consentmgr.sessions.models import EndReason
from consentmgr.sessions.store import end_sessions_of
from consentmgr.sql import utcnow
from consentmgr.staff.models import StaffUser


def _became(obj: Any, attribute: str, value: Any) -> bool:
    history = inspect(obj).attrs[attribute].history
    return bool(history.added) and history.added[0] == value and value not in history.deleted


@event.listens_for(Session, "after_flush")
def _end_sessions_of_the_erased_and_deactivated(session: Session, _context: Any) -> None:
    # After the flush the objects still show what changed (attribute history).
    erased = [obj.id for obj in session.dirty
              if isinstance(obj, Customer) and _became(obj, "status", CustomerStatus.ERASED)]
    deactivated = [obj.id for obj in session.dirty
                   if isinstance(obj, StaffUser) and _became(obj, "active", False)]
    now = utcnow()
    if erased:
        end_sessions_of(session, reason=EndReason.ERASED, now=now, customer_ids=erased)
    if deactivated:
        end_sessions_of(session, reason=EndReason.DEACTIVATED, now=now, staff_ids=deactivated)
