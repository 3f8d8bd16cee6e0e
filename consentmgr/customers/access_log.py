"""Who on the staff has accessed a customer's record: the portal's transparency page.

GDPR Art. 15(1)(c) gives customers the right to know who received their
data; we go further and show every staff view and field reveal, read from
the audit trail (which holds ids, roles, field names and reason codes only).
Staff display names come from the staff directory at read time.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Iterable, Mapping

from consentmgr.audit import actions as audit_actions
from consentmgr.audit.services import entries_for_customer

UNNAMED_STAFF = "a staff member"

# Reason codes staff give before revealing a field, in the customer's words.
REASON_TEXT = {
    "support-ticket": "You contacted our customer service (a support ticket)",
    "customer-request": "You asked us to (for example on the phone)",
    "legal-obligation": "The law required it",
    "fraud-investigation": "To investigate suspected fraud",
    "data-subject-request": "To answer a request you made about your data",
}

FIELD_TEXT = {
    "email": "email address",
    "name": "name",
    "phone": "phone number",
    "postal_address": "postal address",
    "date_of_birth": "date of birth",
    "preferences": "preferences",
    "history": "history",
}

ROLE_TEXT = {"agent": "Customer service agent", "dpo": "Data protection officer",
             "admin": "Administrator"}


@dataclass(frozen=True)
class StaffAccess:
    """One time a staff member looked at the record or revealed fields of it."""

    occurred_at: dt.datetime
    action: str  # customer.view or customer.reveal
    staff_name: str
    staff_role: str | None
    fields: tuple[str, ...]
    reason_code: str | None

    @property
    def is_reveal(self) -> bool:
        """True when fields were shown in clear (not just the masked record)."""
        return self.action == audit_actions.CUSTOMER_REVEAL

    @property
    def role_text(self) -> str:
        """The staff member's role in plain words."""
        if not self.staff_role:
            return "Staff member"
        return ROLE_TEXT.get(self.staff_role, self.staff_role.replace("-", " ").capitalize())

    @property
    def field_text(self) -> list[str]:
        """The fields revealed, in plain words."""
        return [FIELD_TEXT.get(name, name.replace("_", " ")) for name in self.fields]

    @property
    def reason_text(self) -> str | None:
        """The reason code in plain words (None when no reason was needed)."""
        if not self.reason_code:
            return None
        return REASON_TEXT.get(self.reason_code,
                               self.reason_code.replace("-", " ").replace("_", " ").capitalize())


def _staff_cards(staff_ids: Iterable[str]) -> Mapping[str, object]:
    """Display names and roles from the staff directory, if that area is installed."""
    ids = sorted(set(staff_ids))
    if not ids:
        return {}
    try:
        from consentmgr.staff.services import staff_directory
    except ImportError:
        return {}
    return staff_directory(ids)


def staff_accesses(customer_id: uuid.UUID | str) -> list[StaffAccess]:
    """Every successful staff view and reveal of this customer's record, newest first.

    Refused attempts (a reveal without a reason) are left out: no data was
    shown. A staff member the directory no longer knows is "a staff member"
    with the role the audit entry recorded.
    """
    entries = [e for e in entries_for_customer(customer_id,
                                               actions=audit_actions.STAFF_ACCESS_ACTIONS)
               if e.outcome == audit_actions.SUCCESS]
    cards = _staff_cards(e.actor_id for e in entries if e.actor_type == "staff")
    accesses = []
    for entry in entries:
        card = cards.get(entry.actor_id) if entry.actor_type == "staff" else None
        accesses.append(StaffAccess(
            occurred_at=entry.occurred_at_utc,
            action=entry.action,
            staff_name=getattr(card, "display_name", None) or UNNAMED_STAFF,
            staff_role=getattr(card, "role", None) or entry.actor_role,
            fields=tuple(entry.fields or ()),
            reason_code=entry.reason_code,
        ))
    return accesses
