"""What the customer is told about their request, by mail (GDPR Art. 12(3)-(4), 18(3), 21(4)).

Every message is queued with :func:`consentmgr.mail.send_mail_after_commit`:
it goes once the unit of work commits, never for one rolled back. A
message is composed when it is queued, so the erasure confirmation can be
queued before the address it goes to is made unreadable.

Messages name the request by its id, type and dates; they carry no other
personal data than the address they are sent to. Each is written in the
customer's language (``preferences.language``, else English), whoever's
page the change came from.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from contextlib import AbstractContextManager

from consentmgr.customers.models import Customer
from consentmgr.extensions import db
from consentmgr.i18n import _, current_language, in_language, language_of, lazy_gettext, long_date
from consentmgr.mail import send_mail_after_commit
from consentmgr.policies.services import PolicyNotFound, current_version, document_of
from consentmgr.requests.models import DataSubjectRequest, RefusalReason, RequestType
from consentmgr.runtime import of_session

# Lazy: read in the language of the mail being written, or of the portal page showing them.
TYPE_NAMES = {
    RequestType.ACCESS: lazy_gettext("access to your data (GDPR Art. 15)"),
    RequestType.PORTABILITY: lazy_gettext("a copy of your data to take elsewhere (GDPR Art. 20)"),
    RequestType.RECTIFICATION: lazy_gettext("correction of your data (GDPR Art. 16)"),
    RequestType.ERASURE: lazy_gettext("erasure of your data (GDPR Art. 17)"),
    RequestType.RESTRICTION: lazy_gettext("restriction of processing (GDPR Art. 18)"),
    RequestType.OBJECTION: lazy_gettext("your objection to processing (GDPR Art. 21)"),
}

REFUSAL_TEXTS = {
    RefusalReason.IDENTITY_NOT_VERIFIED:
        lazy_gettext("We could not verify that the request comes from you (GDPR Art. 12(6))."),
    RefusalReason.MANIFESTLY_UNFOUNDED:
        lazy_gettext("The request is manifestly unfounded or excessive (GDPR Art. 12(5))."),
    RefusalReason.LEGAL_OBLIGATION:
        lazy_gettext("The law requires us to keep this data (GDPR Art. 17(3)(b))."),
    RefusalReason.LEGAL_CLAIMS:
        lazy_gettext("We need this data to establish, exercise or defend legal claims "
                     "(GDPR Art. 17(3)(e))."),
    RefusalReason.OTHER: lazy_gettext("For the reason given below."),
}

OUTCOME_TEXTS = {
    "exported": lazy_gettext("You downloaded your data from the privacy portal."),
    "export-available": lazy_gettext("Your data is ready: sign in to the privacy portal and "
                                     "choose \"Download my data\"."),
    "restricted": lazy_gettext("We have restricted the processing of your data: we keep it, "
                               "but do not otherwise use it."),
    "already-restricted": lazy_gettext("The processing of your data was already restricted."),
    "objection-upheld": lazy_gettext("Your objection stands: we no longer process your data "
                                     "for this purpose."),
    "compelling-grounds": lazy_gettext("We have weighed your objection and found compelling "
                                       "legitimate grounds to continue this processing (GDPR "
                                       "Art. 21(1)); the reason is given below."),
    "erased": lazy_gettext("We have erased your data."),
    "partly-erased": lazy_gettext("We have erased your data, except what the law requires us "
                                  "to keep (listed below)."),
    "rectified": lazy_gettext("We have corrected your data."),
}

# Used when the policy in effect has no "Your right to complain" section in the language written.
DEFAULT_COMPLAINT_TEXT = lazy_gettext(
    "You have the right to complain to a data protection supervisory authority, in "
    "particular in the EU member state where you live or work or where you think the "
    "infringement took place (GDPR Art. 77)."
)
# The section's heading in each language a policy document is written in.
_COMPLAINT_HEADINGS = {
    "en": re.compile(r"^#{1,6}\s*your right to complain\s*$", re.IGNORECASE | re.MULTILINE),
    "de": re.compile(r"^#{1,6}\s*(ihr recht auf beschwerde|ihr beschwerderecht)\s*$",
                     re.IGNORECASE | re.MULTILINE),
}
_NEXT_HEADING = re.compile(r"^#{1,6}\s", re.MULTILINE)


def _send(customer: Customer, write: Callable[[], tuple[str, list[str]]]) -> bool:
    """Queue what ``write`` composes (subject, lines), written in the customer's language.

    GDPR Art. 12(1): in a language the person understands -- the one they
    chose (``preferences.language``), else English; whoever's page the
    change came from (a DPO's decision is written to the customer in theirs).
    """
    address = customer.email
    if not address:
        return False  # an erased record: nobody to write to
    with in_language(language_of(customer.preferences)):
        subject, lines = write()
        footer = ["", _("Your privacy portal: %(link)s", link=of_session(db.session).links.home())]
        send_mail_after_commit(address, subject, "\n".join(lines + footer) + "\n")
    return True


def writing_to(customer: Customer) -> AbstractContextManager[str]:
    """Write in ``customer``'s language for the block (text composed elsewhere for their mail)."""
    return in_language(language_of(customer.preferences))


def _heading(req: DataSubjectRequest) -> list[str]:
    return [_("Request: %(type)s", type=TYPE_NAMES[req.type]),
            _("Reference: %(id)s", id=req.id),
            _("Received: %(day)s", day=long_date(req.received_at))]


def complaint_text() -> str:
    """The right to complain, naming the supervisory authority of the policy in effect.

    In the language being written: the section of the policy's text in that
    language, else the general text, translated.
    """
    language = current_language()
    try:
        document = document_of(current_version(), language)
    except PolicyNotFound:
        return str(DEFAULT_COMPLAINT_TEXT)
    # A version without a text in this language gives the English one: not quoted here.
    heading = _COMPLAINT_HEADINGS.get(language) if document.language == language else None
    body = document.body
    found = heading.search(body) if heading is not None else None
    if found is None:
        return str(DEFAULT_COMPLAINT_TEXT)
    rest = body[found.end():]
    following = _NEXT_HEADING.search(rest)
    section = (rest[: following.start()] if following else rest).strip()
    paragraphs = [" ".join(p.split()) for p in section.split("\n\n") if p.strip()]
    return "\n\n".join(paragraphs) or str(DEFAULT_COMPLAINT_TEXT)


def acknowledge(customer: Customer, req: DataSubjectRequest) -> bool:
    """Tell the customer the request was received and when it will be answered."""
    def write() -> tuple[str, list[str]]:
        lines = [_("We have received your request."), "", *_heading(req),
                 _("We will answer by: %(day)s", day=long_date(req.deadline))]
        if req.status == "awaiting-identity":
            lines += ["", _("Before we act on it, we must check that the request comes from "
                            "you; we will contact you about this.")]
        return _("We have received your request"), lines
    return _send(customer, write)


def inactivity_warning(customer: Customer, *, inactive_days: int, closes_on: dt.date) -> bool:
    """Tell the customer their unused account will be closed on ``closes_on`` unless they use it."""
    def write() -> tuple[str, list[str]]:
        return _("Your account will be closed soon"), [
            _("Our privacy policy says we close accounts that have not been used for "
              "%(days)d days, and yours has not been used for a long time.", days=inactive_days),
            "",
            _("Unless you sign in to your privacy portal before %(day)s, we will close your "
              "account on or after that day and erase your data, except what the law requires "
              "us to keep for longer.", day=long_date(closes_on)),
            "",
            _("If you want to keep your account, simply sign in; nothing else is needed.")]
    return _send(customer, write)


def inactivity_closure(customer: Customer, req: DataSubjectRequest, extra: list[str] | None = None,
                       *, inactive_days: int) -> bool:
    """Tell the customer we closed their account because it was unused for ``inactive_days``.

    Sent instead of the acknowledgement and the completion of a request: the
    customer asked for nothing (GDPR Art. 5(1)(e), storage limitation, and the
    period announced in the policy, Art. 13(2)(a)). ``extra``: what is kept
    for a legal obligation, as for an erasure the customer asks for (written
    in the customer's language: see :func:`writing_to`).
    """
    def write() -> tuple[str, list[str]]:
        lines = [_("We have closed your account because it was inactive for %(days)d days, "
                   "as our privacy policy says.", days=inactive_days),
                 "",
                 str(OUTCOME_TEXTS.get(req.outcome or "", OUTCOME_TEXTS["erased"])),
                 "", _("Reference: %(id)s", id=req.id),
                 _("Closed: %(day)s", day=long_date(req.completed_at or req.received_at))]
        lines += extra or []
        lines += ["", _("You are welcome to open a new account at any time.")]
        return _("We have closed your inactive account"), lines
    return _send(customer, write)


def extension(customer: Customer, req: DataSubjectRequest) -> bool:
    """Art. 12(3): tell the customer of an extension and why, within the first month."""
    def write() -> tuple[str, list[str]]:
        return _("We need more time for your request"), [
            _("We need more time to answer your request."), "", *_heading(req),
            _("We will now answer by: %(day)s", day=long_date(req.deadline)), "", _("Why:"),
            req.extension_reason or ""]
    return _send(customer, write)


def completion(customer: Customer, req: DataSubjectRequest, extra: list[str] | None = None) -> bool:
    """Tell the customer the request was answered, and how."""
    def write() -> tuple[str, list[str]]:
        lines = [_("We have answered your request."), "", *_heading(req), "",
                 str(OUTCOME_TEXTS.get(req.outcome or "") or _("Your request is complete."))]
        if req.outcome == "compelling-grounds" and req.explanation:
            lines += ["", req.explanation, "", complaint_text()]
        lines += extra or []
        return _("Your request has been answered"), lines
    return _send(customer, write)


def refusal(customer: Customer, req: DataSubjectRequest) -> bool:
    """Art. 12(4): the reason for not acting, and the right to complain."""
    def write() -> tuple[str, list[str]]:
        reason = RefusalReason(req.refusal_reason)
        lines = [_("We cannot act on your request."), "", *_heading(req), "", _("Why:"),
                 str(REFUSAL_TEXTS[reason])]
        if req.explanation:
            lines += ["", req.explanation]
        lines += ["", complaint_text()]
        return _("We cannot act on your request"), lines
    return _send(customer, write)


def withdrawal(customer: Customer, req: DataSubjectRequest) -> bool:
    """Confirm that a request was withdrawn."""
    def write() -> tuple[str, list[str]]:
        return _("Your request was withdrawn"), [
            _("Your request was withdrawn; we will not act on it."), "", *_heading(req)]
    return _send(customer, write)


def restriction_lifting(customer: Customer) -> bool:
    """Art. 18(3): the customer is told before a restriction of processing is lifted."""
    def write() -> tuple[str, list[str]]:
        return _("We are lifting the restriction of processing"), [
            _("The restriction of the processing of your data is being lifted: we will use your "
              "data again for the purposes described in our privacy policy."),
            "", _("If you think the restriction should stay, reply to this message or contact "
                  "our data protection officer."),
        ]
    return _send(customer, write)
