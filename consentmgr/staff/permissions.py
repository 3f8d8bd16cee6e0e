"""Who may do what on the staff screens: the role matrix, and the record of a refusal.

=========================================  =====  ===  =====
permission                                 agent  dpo  admin
=========================================  =====  ===  =====
sign in, sign out, staff home                yes  yes    yes
``customers``: find, view (masked),          yes  yes     no
reveal a field with a reason, record
consent on the customer's behalf
``audit``: browse and export the audit        no  yes     no
trail, see the chain's verification
``requests-decide``: decide data-subject      no  yes     no
requests (approve, refuse, extend, weigh
an objection), place and lift legal holds,
export a customer's data
``administer``: staff accounts (create,       no   no    yes
roles, deactivate, password links) and
API clients
``records-of-processing``: the Art. 30       no  yes    yes
record (HTML, CSV, JSON)
``breaches``: the breach register, its        no  yes     no
72-hour clock, mailing affected customers
``dashboard``: the DPO dashboard (weekly      no  yes    yes
counts and rates, no customer data)
=========================================  =====  ===  =====

Administrators do **not** see customer records. Their job is accounts and
integrations; data protection by design and by default (GDPR Art. 25(2))
means no role gets access to personal data it does not need, and separating
"who grants access" from "who uses it" keeps an administrator from quietly
giving themselves a customer's data (they would have to create a second,
audited account). The DPO sees records because handling data-subject
requests and investigating complaints needs them (Arts. 38-39).

Agents see the request queue and file requests for a caller (under
``customers``), but only the DPO decides them: an erasure, a refusal or a
longer deadline is a decision the controller answers for (Arts. 12(3)-(5),
17), and the export hands out a whole record at once.
"""

from __future__ import annotations

import enum

from consentmgr.actors import Actor
from consentmgr.audit import actions
from consentmgr.audit import services as audit
from consentmgr.staff.models import StaffRole


class Permission(enum.StrEnum):
    """A group of staff screens that share one access rule."""

    CUSTOMERS = "customers"
    AUDIT = "audit"
    ADMINISTER = "administer"
    REQUESTS_DECIDE = "requests-decide"
    RECORDS_OF_PROCESSING = "records-of-processing"  # the Art. 30 record: DPO and admin
    BREACHES = "breaches"  # the Art. 33/34 breach register: DPO
    DASHBOARD = "dashboard"  # the DPO dashboard (counts only, no customer data): DPO and admin


# The Art. 30 record lists measures an administrator configures, and holds no
# customer data, so administrators see it; so is the dashboard (counts only).
# The breach register selects and mails customers, so it is the DPO's alone.
ROLE_PERMISSIONS: dict[StaffRole, frozenset[Permission]] = {
    StaffRole.AGENT: frozenset({Permission.CUSTOMERS}),
    StaffRole.DPO: frozenset({Permission.CUSTOMERS, Permission.AUDIT, Permission.REQUESTS_DECIDE,
                              Permission.RECORDS_OF_PROCESSING, Permission.BREACHES,
                              Permission.DASHBOARD}),
    StaffRole.ADMIN: frozenset({Permission.ADMINISTER, Permission.RECORDS_OF_PROCESSING,
                                Permission.DASHBOARD}),
}


def can(role: StaffRole | str | None, permission: Permission | str) -> bool:
    """True if staff with ``role`` hold ``permission``; unknown roles hold none."""
    try:
        return Permission(permission) in ROLE_PERMISSIONS.get(StaffRole(role), frozenset())
    except ValueError:
        return False


def record_access_denied(actor: Actor, *, screen: str, client_address: str | None = None,
                         request_id: str | None = None) -> None:
    """Record that ``actor`` asked for ``screen`` (an endpoint name) outside their role.

    GDPR Art. 32: attempts to reach data beyond one's role are worth a DPO's
    look, so each refusal is on the record (outcome ``denied``). Flushes;
    the caller commits (the refusal page is the answer, not an error).
    """
    audit.record(actions.STAFF_ACCESS_DENIED, actor=actor, outcome=actions.DENIED,
                 details={"screen": screen}, client_address=client_address,
                 request_id=request_id)
