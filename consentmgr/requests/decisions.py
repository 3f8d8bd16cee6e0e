"""What staff (and the DPO) do with a request: verify identity, approve, complete, refuse, extend, withdraw.

Each function checks the request's state, changes it, writes its audit
entry (:mod:`consentmgr.requests.lifecycle`), queues the customer's mail
(:mod:`consentmgr.requests.notices`) and flushes; the boundary commits.
Who may decide (only the DPO decides erasure, refusal and extension) is the
boundaries' permission check, not these functions'.
"""

from __future__ import annotations

import datetime as dt

from consentmgr.actors import Actor
from consentmgr.audit import actions
from consentmgr.consent.catalogue import purpose_info
from consentmgr.consent.ledger import object_to_processing
from consentmgr.consent.models import ConsentState, ConsentStatus
from consentmgr.customers.models import Customer, CustomerStatus
from consentmgr.customers.services import (
    RetainedByLaw,
    get_customer,
    lift_restriction,
    restrict_processing,
)
from consentmgr.errors import ValidationFailed
from consentmgr.extensions import db
from consentmgr.requests import notices
from consentmgr.requests.deadlines import MAX_EXTENSION_MONTHS, RESPONSE_MONTHS, add_months
from consentmgr.requests.erasure import complete_erasure
from consentmgr.requests.errors import ExtensionTooLate, WrongRequestState
from consentmgr.requests.holds import active_holds
from consentmgr.requests.lifecycle import (
    clean_outcome,
    clean_text,
    close,
    ensure_identity_known,
    ensure_open,
    parse_choice,
    record,
)
from consentmgr.requests.models import (
    DataSubjectRequest,
    RefusalReason,
    RequestStatus,
    RequestType,
)
from consentmgr.runtime import of_session
from consentmgr.sql import utcnow


def _customer(req: DataSubjectRequest) -> Customer:
    return get_customer(req.customer_id)


def _complete(req: DataSubjectRequest, customer: Customer, *, actor: Actor, now: dt.datetime,
              outcome: str) -> DataSubjectRequest:
    close(req, RequestStatus.COMPLETED, actor=actor, now=now, outcome=outcome)
    record(req, actions.REQUEST_COMPLETED, actor=actor)
    notices.completion(customer, req)
    return req


def _start(req: DataSubjectRequest, *, actor: Actor) -> DataSubjectRequest:
    req.status = RequestStatus.IN_PROGRESS
    req.handled_by = str(actor)[:128]
    record(req, actions.REQUEST_STARTED, actor=actor)
    return req


def take_effect(req: DataSubjectRequest, customer: Customer, *, actor: Actor, now: dt.datetime,
                self_service: bool, auto_approve_erasure: bool | None) -> DataSubjectRequest:
    """What happens as soon as a request is received from a known requester.

    - access, portability by the customer themselves: completed, the export
      is handed out at once (the boundary streams it);
    - restriction: takes effect at once (Art. 18), completed;
    - objection: processing for the purpose stops at once (Art. 21); to
      direct marketing it is absolute (completed), otherwise the DPO weighs
      it (in progress, :func:`decide_objection`);
    - erasure: approved at once if the setting allows it and no legal hold
      applies; otherwise it waits for the DPO;
    - rectification, and access or portability filed by someone else: waits
      for staff.

    ``auto_approve_erasure`` None: the ``CONSENTMGR_REQUESTS_AUTO_APPROVE_ERASURE`` setting.
    """
    if req.type in (RequestType.ACCESS, RequestType.PORTABILITY) and self_service:
        return _complete(req, customer, actor=actor, now=now, outcome="exported")
    if req.type == RequestType.RESTRICTION:
        already = customer.status == CustomerStatus.RESTRICTED
        restrict_processing(customer, actor=actor)
        return _complete(req, customer, actor=actor, now=now,
                         outcome="already-restricted" if already else "restricted")
    if req.type == RequestType.OBJECTION:
        return _record_objection(req, customer, actor=actor, now=now)
    if req.type == RequestType.ERASURE:
        if auto_approve_erasure is None:
            auto_approve_erasure = of_session(db.session).settings.requests_auto_approve_erasure
        if auto_approve_erasure and not active_holds(customer):
            return complete_erasure(req, actor=actor, now=now)
    return req


def _record_objection(req: DataSubjectRequest, customer: Customer, *, actor: Actor,
                      now: dt.datetime) -> DataSubjectRequest:
    info = purpose_info(req.purpose)
    state = db.session.get(ConsentState, (customer.id, info.slug))
    if state is None or state.status != ConsentStatus.OBJECTED:
        object_to_processing(customer, info.slug, actor=actor, channel=req.channel)
    if info.direct_marketing:
        # Art. 21(3): an objection to direct marketing is absolute.
        return _complete(req, customer, actor=actor, now=now, outcome="objection-upheld")
    return _start(req, actor=actor)


def verify_identity(req: DataSubjectRequest, *, actor: Actor, identity_check: str,
                    now: dt.datetime | None = None,
                    auto_approve_erasure: bool | None = None) -> DataSubjectRequest:
    """Record how the requester's identity was checked: awaiting-identity → received (then as filed)."""
    ensure_open(req)
    if req.status != RequestStatus.AWAITING_IDENTITY:
        raise WrongRequestState("This request is not waiting for an identity check.")
    check = clean_text(identity_check, "identity_check", required=True, limit=500)
    req.identity_check = check
    req.status = RequestStatus.RECEIVED
    req.handled_by = str(actor)[:128]
    record(req, actions.REQUEST_IDENTITY_VERIFIED, actor=actor)
    return take_effect(req, _customer(req), actor=actor, now=now or utcnow(), self_service=False,
                       auto_approve_erasure=auto_approve_erasure)


def approve_request(req: DataSubjectRequest, *, actor: Actor,
                    now: dt.datetime | None = None) -> DataSubjectRequest:
    """The decision to act on a request.

    Erasure: carried out now (:func:`complete_erasure`; refused if a legal
    hold applies). Rectification: in progress, for staff to make the change.
    Access, portability: completed, the export is available. Restriction:
    takes effect, completed. Objection: upheld (:func:`decide_objection`).
    """
    ensure_identity_known(req)
    now = now or utcnow()
    if req.type == RequestType.ERASURE:
        return complete_erasure(req, actor=actor, now=now)
    if req.type == RequestType.OBJECTION:
        return decide_objection(req, actor=actor, upheld=True, reason=None, now=now)
    customer = _customer(req)
    if req.type == RequestType.RECTIFICATION:
        if req.status == RequestStatus.IN_PROGRESS:
            raise WrongRequestState("This request is already in progress.")
        return _start(req, actor=actor)
    if req.type == RequestType.RESTRICTION:
        return take_effect(req, customer, actor=actor, now=now, self_service=False,
                           auto_approve_erasure=False)
    return _complete(req, customer, actor=actor, now=now, outcome="export-available")


def complete_request(req: DataSubjectRequest, *, actor: Actor, outcome: str,
                     note: str | None = None, now: dt.datetime | None = None) -> DataSubjectRequest:
    """Mark a request done by staff (e.g. a rectification made), with a short outcome code.

    Erasure is completed only by approving it, an objection only by
    :func:`decide_objection`: both have effects beyond the register.
    """
    ensure_identity_known(req)
    if req.type == RequestType.ERASURE:
        raise WrongRequestState("An erasure is completed by approving it.")
    if req.type == RequestType.OBJECTION:
        raise WrongRequestState("An objection is completed by deciding it.")
    code = clean_outcome(outcome)
    text = clean_text(note, "note", required=False)
    if text:
        req.notes = f"{req.notes}\n\n{text}" if req.notes else text
    return _complete(req, _customer(req), actor=actor, now=now or utcnow(), outcome=code)


def refuse_request(req: DataSubjectRequest, *, actor: Actor, reason_code: RefusalReason | str,
                   explanation: str | None = None,
                   now: dt.datetime | None = None) -> DataSubjectRequest:
    """Refuse a request with a reason code (Art. 12(4)); ``other`` needs an explanation.

    The customer is told why, and of their right to complain to the
    supervisory authority.
    """
    ensure_open(req)
    reason = parse_choice(RefusalReason, reason_code, "reason_code")
    text = clean_text(explanation, "explanation", required=reason == RefusalReason.OTHER)
    close(req, RequestStatus.REFUSED, actor=actor, now=now or utcnow(), outcome="refused")
    req.refusal_reason = reason
    if text:
        req.explanation = text
    record(req, actions.REQUEST_REJECTED, actor=actor)
    notices.refusal(_customer(req), req)
    return req


def extension_months(req: DataSubjectRequest) -> int:
    """How many months the request has been extended by so far (0 to 2)."""
    if req.extended_due_at is None:
        return 0
    for months in range(1, MAX_EXTENSION_MONTHS + 1):
        if add_months(req.received_at, RESPONSE_MONTHS + months) >= req.extended_due_at:
            return months
    return MAX_EXTENSION_MONTHS


def extend_request(req: DataSubjectRequest, *, actor: Actor, months: int, reason: str,
                   now: dt.datetime | None = None) -> DataSubjectRequest:
    """Extend the deadline by ``months`` (Art. 12(3)): at most two further months in total.

    A reason is required, and the customer is told of it; the extension must
    be made before the first deadline (within one month of receipt).
    """
    ensure_open(req)
    now = now or utcnow()
    if isinstance(months, bool) or not isinstance(months, int) or months < 1:
        raise ValidationFailed({"months": ["Extend by 1 or 2 months."]})
    total = extension_months(req) + months
    if total > MAX_EXTENSION_MONTHS:
        raise ValidationFailed({"months": [
            f"At most {MAX_EXTENSION_MONTHS} further months in total "
            "(three months after receipt)."]})
    text = clean_text(reason, "reason", required=True)
    if now >= req.due_at:
        raise ExtensionTooLate()
    req.extended_due_at = add_months(req.received_at, RESPONSE_MONTHS + total)
    req.extension_reason = text
    req.handled_by = str(actor)[:128]
    record(req, actions.REQUEST_EXTENDED, actor=actor)
    notices.extension(_customer(req), req)
    return req


def withdraw_request(req: DataSubjectRequest, *, actor: Actor,
                     now: dt.datetime | None = None) -> DataSubjectRequest:
    """The requester (or staff for them) withdraws an open request.

    What already took effect stays: a withdrawn objection does not undo the
    objection recorded in the consent ledger.
    """
    ensure_open(req)
    close(req, RequestStatus.WITHDRAWN, actor=actor, now=now or utcnow(), outcome="withdrawn")
    record(req, actions.REQUEST_WITHDRAWN, actor=actor)
    notices.withdrawal(_customer(req), req)
    return req


def decide_objection(req: DataSubjectRequest, *, actor: Actor, upheld: bool,
                     reason: str | None, now: dt.datetime | None = None) -> DataSubjectRequest:
    """The DPO's decision on an objection to a legitimate-interest purpose (Art. 21(1)).

    ``upheld``: the objection stands (outcome ``objection-upheld``).
    Otherwise the controller has shown compelling legitimate grounds
    (outcome ``compelling-grounds``); the reason is required and told to
    the customer. The consent ledger keeps the objection, so the consent
    check keeps answering ``objected`` for the purpose: systems that rely on
    the compelling grounds must do so knowingly, with this request's
    decision as their record.
    """
    if req.type != RequestType.OBJECTION:
        raise WrongRequestState("Only an objection is decided this way.")
    ensure_identity_known(req)
    text = clean_text(reason, "reason", required=not upheld)
    if text:
        req.explanation = text
    return _complete(req, _customer(req), actor=actor, now=now or utcnow(),
                     outcome="objection-upheld" if upheld else "compelling-grounds")


def lift_restriction_request(customer: Customer, *, actor: Actor) -> bool:
    """Lift a restriction of processing, telling the customer first (Art. 18(3)).

    The notice is composed and queued before the record changes, in the
    same unit of work, so it goes out exactly when the lifting commits.
    Returns False if the record was not restricted. A record kept only for
    a legal obligation after an erasure stays restricted (:class:`RetainedByLaw`).
    """
    if customer.status != CustomerStatus.RESTRICTED:
        return False
    if customer.retained_until is not None:
        raise RetainedByLaw()
    notices.restriction_lifting(customer)
    lift_restriction(customer, actor=actor)
    return True
