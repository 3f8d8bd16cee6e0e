"""What the customer is told about their request, by mail (GDPR Art. 12(3)-(4), 18(3), 21(4)).

Every message is queued with :func:`consentmgr.mail.send_mail_after_commit`:
it goes once the unit of work commits, never for one rolled back. A
message is composed when it is queued, so the erasure confirmation can be
queued before the address it goes to is made unreadable.

Messages name the request by its id, type and dates; they carry no other
personal data than the address they are sent to.
"""

from __future__ import annotations

import datetime as dt
import re

from consentmgr.customers.models import Customer
from consentmgr.extensions import db
from consentmgr.mail import send_mail_after_commit
from consentmgr.policies.services import PolicyNotFound, current_version, document_of
from consentmgr.requests.models import DataSubjectRequest, RefusalReason, RequestType
from consentmgr.runtime import of_session

TYPE_NAMES = {
    RequestType.ACCESS: "access to your data (GDPR Art. 15)",
    RequestType.PORTABILITY: "a copy of your data to take elsewhere (GDPR Art. 20)",
    RequestType.RECTIFICATION: "correction of your data (GDPR Art. 16)",
    RequestType.ERASURE: "erasure of your data (GDPR Art. 17)",
    RequestType.RESTRICTION: "restriction of processing (GDPR Art. 18)",
    RequestType.OBJECTION: "your objection to processing (GDPR Art. 21)",
}

REFUSAL_TEXTS = {
    RefusalReason.IDENTITY_NOT_VERIFIED:
        "We could not verify that the request comes from you (GDPR Art. 12(6)).",
    RefusalReason.MANIFESTLY_UNFOUNDED:
        "The request is manifestly unfounded or excessive (GDPR Art. 12(5)).",
    RefusalReason.LEGAL_OBLIGATION:
        "The law requires us to keep this data (GDPR Art. 17(3)(b)).",
    RefusalReason.LEGAL_CLAIMS:
        "We need this data to establish, exercise or defend legal claims (GDPR Art. 17(3)(e)).",
    RefusalReason.OTHER: "For the reason given below.",
}

OUTCOME_TEXTS = {
    "exported": "You downloaded your data from the privacy portal.",
    "export-available": "Your data is ready: sign in to the privacy portal and choose "
                        "\"Download my data\".",
    "restricted": "We have restricted the processing of your data: we keep it, "
                  "but do not otherwise use it.",
    "already-restricted": "The processing of your data was already restricted.",
    "objection-upheld": "Your objection stands: we no longer process your data for this purpose.",
    "compelling-grounds": "We have weighed your objection and found compelling legitimate "
                          "grounds to continue this processing (GDPR Art. 21(1)); the reason "
                          "is given below.",
    "erased": "We have erased your data.",
    "partly-erased": "We have erased your data, except what the law requires us to keep "
                     "(listed below).",
    "rectified": "We have corrected your data.",
}

# Used when the policy in effect has no "Your right to complain" section.
DEFAULT_COMPLAINT_TEXT = (
    "You have the right to complain to a data protection supervisory authority, in "
    "particular in the EU member state where you live or work or where you think the "
    "infringement took place (GDPR Art. 77)."
)
_COMPLAINT_HEADING = re.compile(r"^#{1,6}\s*your right to complain\s*$", re.IGNORECASE | re.MULTILINE)
_NEXT_HEADING = re.compile(r"^#{1,6}\s", re.MULTILINE)


def _day(moment: dt.datetime) -> str:
    return f"{moment.day} {moment:%B %Y}"


def _send(customer: Customer, subject: str, lines: list[str]) -> bool:
    address = customer.email
    if not address:
        return False  # an erased record: nobody to write to
    footer = ["", "Your privacy portal: " + of_session(db.session).links.home()]
    send_mail_after_commit(address, subject, "\n".join(lines + footer) + "\n")
    return True


def _heading(req: DataSubjectRequest) -> list[str]:
    return [f"Request: {TYPE_NAMES[req.type]}", f"Reference: {req.id}",
            f"Received: {_day(req.received_at)}"]


def complaint_text() -> str:
    """The right to complain, naming the supervisory authority of the policy in effect."""
    try:
        body = document_of(current_version()).body
    except PolicyNotFound:
        return DEFAULT_COMPLAINT_TEXT
    found = _COMPLAINT_HEADING.search(body)
    if found is None:
        return DEFAULT_COMPLAINT_TEXT
    rest = body[found.end():]
    following = _NEXT_HEADING.search(rest)
    section = (rest[: following.start()] if following else rest).strip()
    paragraphs = [" ".join(p.split()) for p in section.split("\n\n") if p.strip()]
    return "\n\n".join(paragraphs) or DEFAULT_COMPLAINT_TEXT


def acknowledge(customer: Customer, req: DataSubjectRequest) -> bool:
    """Tell the customer the request was received and when it will be answered."""
    lines = ["We have received your request.", "", *_heading(req),
             f"We will answer by: {_day(req.deadline)}"]
    if req.status == "awaiting-identity":
        lines += ["", "Before we act on it, we must check that the request comes from you; "
                      "we will contact you about this."]
    return _send(customer, "We have received your request", lines)


def inactivity_warning(customer: Customer, *, inactive_days: int, closes_on: dt.date) -> bool:
    """Tell the customer their unused account will be closed on ``closes_on`` unless they use it."""
    lines = [f"Our privacy policy says we close accounts that have not been used for "
             f"{inactive_days} days, and yours has not been used for a long time.",
             "",
             f"Unless you sign in to your privacy portal before {_day(closes_on)}, we will close "
             "your account on or after that day and erase your data, except what the law "
             "requires us to keep for longer.",
             "",
             "If you want to keep your account, simply sign in; nothing else is needed."]
    return _send(customer, "Your account will be closed soon", lines)


def inactivity_closure(customer: Customer, req: DataSubjectRequest, extra: list[str] | None = None,
                       *, inactive_days: int) -> bool:
    """Tell the customer we closed their account because it was unused for ``inactive_days``.

    Sent instead of the acknowledgement and the completion of a request: the
    customer asked for nothing (GDPR Art. 5(1)(e), storage limitation, and the
    period announced in the policy, Art. 13(2)(a)). ``extra``: what is kept
    for a legal obligation, as for an erasure the customer asks for.
    """
    lines = [f"We have closed your account because it was inactive for {inactive_days} days, "
             "as our privacy policy says.",
             "",
             OUTCOME_TEXTS.get(req.outcome or "", OUTCOME_TEXTS["erased"]),
             "", f"Reference: {req.id}", f"Closed: {_day(req.completed_at or req.received_at)}"]
    lines += extra or []
    lines += ["", "You are welcome to open a new account at any time."]
    return _send(customer, "We have closed your inactive account", lines)


def extension(customer: Customer, req: DataSubjectRequest) -> bool:
    """Art. 12(3): tell the customer of an extension and why, within the first month."""
    lines = ["We need more time to answer your request.", "", *_heading(req),
             f"We will now answer by: {_day(req.deadline)}", "", "Why:",
             req.extension_reason or ""]
    return _send(customer, "We need more time for your request", lines)


def completion(customer: Customer, req: DataSubjectRequest, extra: list[str] | None = None) -> bool:
    """Tell the customer the request was answered, and how."""
    lines = ["We have answered your request.", "", *_heading(req), "",
             OUTCOME_TEXTS.get(req.outcome or "", "Your request is complete.")]
    if req.outcome == "compelling-grounds" and req.explanation:
        lines += ["", req.explanation, "", complaint_text()]
    lines += extra or []
    return _send(customer, "Your request has been answered", lines)


def refusal(customer: Customer, req: DataSubjectRequest) -> bool:
    """Art. 12(4): the reason for not acting, and the right to complain."""
    reason = RefusalReason(req.refusal_reason)
    lines = ["We cannot act on your request.", "", *_heading(req), "", "Why:", REFUSAL_TEXTS[reason]]
    if req.explanation:
        lines += ["", req.explanation]
    lines += ["", complaint_text()]
    return _send(customer, "We cannot act on your request", lines)


def withdrawal(customer: Customer, req: DataSubjectRequest) -> bool:
    """Confirm that a request was withdrawn."""
    return _send(customer, "Your request was withdrawn",
                 ["Your request was withdrawn; we will not act on it.", "", *_heading(req)])


def restriction_lifting(customer: Customer) -> bool:
    """Art. 18(3): the customer is told before a restriction of processing is lifted."""
    return _send(customer, "We are lifting the restriction of processing", [
        "The restriction of the processing of your data is being lifted: we will use your data "
        "again for the purposes described in our privacy policy.",
        "", "If you think the restriction should stay, reply to this message or contact our "
            "data protection officer.",
    ])
