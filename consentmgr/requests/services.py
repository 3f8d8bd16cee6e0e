"""The requests area's public face: what the portal, the staff screens, the API and the CLI call.

- :mod:`consentmgr.requests.models` — the register and legal holds;
- :mod:`consentmgr.requests.deadlines` — calendar-month deadlines (Art. 12(3));
- :mod:`consentmgr.requests.register` — file, find and list requests;
- :mod:`consentmgr.requests.decisions` — verify, approve, complete, refuse, extend,
  withdraw, decide objections, lift a restriction with notice;
- :mod:`consentmgr.requests.erasure` — carry out an erasure, finish it when kept data expires;
- :mod:`consentmgr.requests.retention` — what an erasure keeps for a legal obligation;
- :mod:`consentmgr.requests.purge` — the retention purge: what is past its period goes;
- :mod:`consentmgr.requests.holds` — legal holds (Art. 17(3));
- :mod:`consentmgr.requests.notices` — the mails to the customer;
- :mod:`consentmgr.requests.export` — the Art. 15/20 export (ZIP).

Every function that changes something takes an explicit ``actor``,
validates, changes, writes its audit entry and flushes; the boundary commits.
"""

from __future__ import annotations

from consentmgr.customers.services import CustomerErased, RetainedByLaw
from consentmgr.requests.deadlines import MAX_EXTENSION_MONTHS, add_months, due_date
from consentmgr.requests.decisions import (
    approve_request,
    complete_request,
    decide_objection,
    extend_request,
    extension_months,
    lift_restriction_request,
    refuse_request,
    verify_identity,
    withdraw_request,
)
from consentmgr.requests.erasure import complete_erasure, purge_expired_retention
from consentmgr.requests.errors import (
    DuplicateRequest,
    ExtensionTooLate,
    HoldAlreadyLifted,
    LegalHoldNotFound,
    RequestClosed,
    RequestNotFound,
    WrongRequestState,
)
from consentmgr.requests.holds import (
    active_holds,
    get_legal_hold,
    holds_of,
    lift_legal_hold,
    place_legal_hold,
)
from consentmgr.requests.models import (
    CLOSED_STATUSES,
    HOLD_EXCEPTIONS,
    OPEN_STATUSES,
    Channel,
    RequestChannel,
    DataSubjectRequest,
    LegalHold,
    RefusalReason,
    RequestStatus,
    RequestType,
)
from consentmgr.requests.notices import REFUSAL_TEXTS, complaint_text
from consentmgr.requests.register import (
    count_requests,
    customer_request,
    file_request,
    get_request,
    list_requests,
    overdue_requests,
    requests_of,
)
from consentmgr.requests.retention import kept_categories, retention_plan

__all__ = [
    "CLOSED_STATUSES", "HOLD_EXCEPTIONS", "MAX_EXTENSION_MONTHS", "OPEN_STATUSES",
    "REFUSAL_TEXTS", "Channel", "RequestChannel", "CustomerErased", "DataSubjectRequest", "DuplicateRequest",
    "ExtensionTooLate", "HoldAlreadyLifted", "LegalHold", "LegalHoldNotFound",
    "RefusalReason", "RequestClosed", "RequestNotFound", "RequestStatus", "RequestType",
    "RetainedByLaw", "WrongRequestState", "active_holds", "add_months", "approve_request",
    "complaint_text", "complete_erasure", "complete_request", "count_requests",
    "customer_request", "decide_objection", "due_date", "extend_request", "extension_months",
    "file_request", "get_legal_hold", "get_request", "holds_of", "kept_categories",
    "lift_legal_hold", "lift_restriction_request", "list_requests", "overdue_requests",
    "place_legal_hold", "purge_expired_retention", "refuse_request", "requests_of",
    "retention_plan", "verify_identity", "withdraw_request",
]
