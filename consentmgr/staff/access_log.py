"""Who on the staff has accessed a customer's record: the portal's transparency page.

GDPR Art. 15(1)(c) gives customers the right to know who received their
data; we go further and show every staff view and field reveal, read from
the audit trail (which holds ids, roles, field names and reason codes only).
Staff display names come from the staff directory at read time.

This read model lives in the staff area because it speaks of staff: their
roles, their reasons for a reveal, the fields they can reveal. The staff
area depends on customers, never the other way round.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from consentmgr.audit import actions as audit_actions
from consentmgr.audit.services import entries_for_customer
from consentmgr.staff.access import RevealReason
from consentmgr.staff.directory import staff_directory
from consentmgr.staff.models import StaffRole

UNNAMED_STAFF = "a staff member"

# Why a staff member revealed a field, in the customer's words.
REASON_TEXT: dict[RevealReason, str] = {
    RevealReason.SUPPORT_TICKET: "You contacted our customer service (a support ticket)",
    RevealReason.CUSTOMER_REQUEST: "You asked us to (for example on the phone)",
    RevealReason.LEGAL_OBLIGATION: "The law required it",
    RevealReason.FRAUD_INVESTIGATION: "To investigate suspected fraud",
    RevealReason.DATA_SUBJECT_REQUEST: "To answer a request you made about your data",
}

# The fields staff can reveal (consentmgr.staff.access.FIELDS), in the customer's words.
FIELD_TEXT = {
    "email": "email address",
    "name": "name",
    "phone": "phone number",
    "postal_address": "postal address",
    "date_of_birth": "date of birth",
    "preferences": "preferences",
    "history": "history",
}

ROLE_TEXT: dict[StaffRole, str] = {
    StaffRole.AGENT: "Customer service agent",
    StaffRole.DPO: "Data protection officer",
    StaffRole.ADMIN: "Administrator",
}


def _plain(code: str) -> str:
    # A code recorded by an older release that no enum member names any more.
    return code.replace("-", " ").replace("_", " ").capitalize()


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
        try:
            return ROLE_TEXT[StaffRole(self.staff_role)]
        except ValueError:
            return _plain(self.staff_role)

    @property
    def field_text(self) -> list[str]:
        """The fields revealed, in plain words."""
        return [FIELD_TEXT.get(name, name.replace("_", " ")) for name in self.fields]

    @property
    def reason_text(self) -> str | None:
        """The reason code in plain words (None when no reason was needed)."""
        if not self.reason_code:
            return None
        try:
            return REASON_TEXT[RevealReason(self.reason_code)]
        except ValueError:
            return _plain(self.reason_code)


#: Accesses per page of the portal's list: a page costs the same after years of history.
ACCESSES_PER_PAGE = 50


@dataclass(frozen=True)
class AccessPage:
    """One page of the accesses, newest first, and where the next (older) page starts."""

    accesses: list[StaffAccess]
    older: int | None  # pass as ``before`` for the next page; None on the last page


def staff_accesses(customer_id: uuid.UUID | str) -> list[StaffAccess]:
    """Every successful staff view and reveal of this customer's record, newest first.

    Refused attempts (a reveal without a reason) are left out: no data was
    shown. A staff member the directory no longer knows is "a staff member"
    with the role the audit entry recorded. For an export; a page uses
    :func:`staff_access_page`.
    """
    return _accesses(entries_for_customer(customer_id, actions=audit_actions.STAFF_ACCESS_ACTIONS,
                                          outcome=audit_actions.SUCCESS))


def staff_access_page(customer_id: uuid.UUID | str, *, before: int | None = None,
                      per_page: int | None = None) -> AccessPage:
    """Up to ``per_page`` (default :data:`ACCESSES_PER_PAGE`) of :func:`staff_accesses`,
    older than entry id ``before`` if given."""
    per_page = per_page or ACCESSES_PER_PAGE
    entries = entries_for_customer(customer_id, actions=audit_actions.STAFF_ACCESS_ACTIONS,
                                   outcome=audit_actions.SUCCESS, before=before,
                                   limit=per_page + 1)
    older = entries[per_page - 1].id if len(entries) > per_page else None
    return AccessPage(_accesses(entries[:per_page]), older)


def _accesses(entries: list) -> list[StaffAccess]:
    cards = staff_directory({e.actor_id for e in entries if e.actor_type == "staff"})
    accesses = []
    for entry in entries:
        card = cards.get(entry.actor_id) if entry.actor_type == "staff" else None
        accesses.append(StaffAccess(
            occurred_at=entry.occurred_at_utc,
            action=entry.action,
            staff_name=(card.display_name if card else None) or UNNAMED_STAFF,
            staff_role=card.role if card else entry.actor_role,
            fields=tuple(entry.fields or ()),
            reason_code=entry.reason_code,
        ))
    return accesses
