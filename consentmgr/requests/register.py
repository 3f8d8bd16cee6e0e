"""The request register: file a request, find it, list the queue.

Filing validates the request, records it with its deadline (one calendar
month, :mod:`consentmgr.requests.deadlines`), acknowledges it by mail, and
lets it take effect at once where the law or the setting says so
(:func:`consentmgr.requests.decisions.take_effect`).
"""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa

from consentmgr.actors import Actor
from consentmgr.audit import actions
from consentmgr.consent.catalogue import UnknownPurpose, purpose_info
from consentmgr.customers.models import Customer, CustomerStatus
from consentmgr.customers.services import CustomerErased
from consentmgr.errors import ValidationFailed
from consentmgr.extensions import db
from consentmgr.requests import notices
from consentmgr.requests.deadlines import due_date
from consentmgr.requests.decisions import take_effect
from consentmgr.requests.errors import DuplicateRequest, RequestNotFound
from consentmgr.requests.lifecycle import clean_text, parse_choice, record
from consentmgr.requests.models import (
    OPEN_STATUSES,
    RequestChannel,
    DataSubjectRequest,
    RequestStatus,
    RequestType,
)
from consentmgr.sql import get_or_raise, utcnow

#: One open request of these types per customer at a time.
SINGLE_OPEN_TYPES = (RequestType.ERASURE, RequestType.RESTRICTION)
MAX_PAGE = 500


def file_request(
    customer: Customer,
    type: RequestType | str,  # noqa: A002 - the contract's name
    *,
    actor: Actor,
    channel: RequestChannel | str,
    purpose: str | None = None,
    notes: str | None = None,
    on_behalf: bool = False,
    identity_check: str | None = None,
    now: dt.datetime | None = None,
    auto_approve_erasure: bool | None = None,
) -> DataSubjectRequest:
    """Record a data subject's request, acknowledge it, and let it take effect where it may.

    ``on_behalf``: staff filing for a caller; without ``identity_check``
    (how the caller's identity was checked) the request waits in
    ``awaiting-identity``. A request by the customer themselves
    (``actor.type == "customer"``) needs no check. ``auto_approve_erasure``
    defaults to the ``CONSENTMGR_REQUESTS_AUTO_APPROVE_ERASURE`` setting.

    Raises :class:`ValidationFailed` (unknown type or channel, an objection
    without a legitimate-interest purpose of the policy in effect, notes too
    long), :class:`CustomerErased`, :class:`DuplicateRequest`.
    """
    kind = parse_choice(RequestType, type, "type")
    via = parse_choice(RequestChannel, channel, "channel")
    if via == RequestChannel.INACTIVITY:
        raise ValidationFailed({"channel": [
            "Only the retention purge closes accounts for inactivity."]})
    if customer.status == CustomerStatus.ERASED:
        raise CustomerErased()
    slug = _objection_purpose(kind, purpose)
    text = clean_text(notes, "notes", required=False)
    check = clean_text(identity_check, "identity_check", required=False, limit=500)
    if kind in SINGLE_OPEN_TYPES and db.session.scalar(
            sa.select(DataSubjectRequest.id).where(
                DataSubjectRequest.customer_id == customer.id, DataSubjectRequest.type == kind,
                DataSubjectRequest.status.in_(OPEN_STATUSES)).limit(1)) is not None:
        raise DuplicateRequest(kind.value)
    now = now or utcnow()
    waiting = on_behalf and check is None
    req = DataSubjectRequest(
        id=uuid.uuid4(), customer_id=customer.id, type=kind, channel=via, purpose=slug,
        status=RequestStatus.AWAITING_IDENTITY if waiting else RequestStatus.RECEIVED,
        received_at=now, due_at=due_date(now))
    if text:
        req.notes = text
    if check:
        req.identity_check = check
    db.session.add(req)
    record(req, actions.REQUEST_RECEIVED, actor=actor)
    if waiting:
        notices.acknowledge(customer, req)
        return req
    self_service = actor.type == "customer" and not on_behalf
    take_effect(req, customer, actor=actor, now=now, self_service=self_service,
                auto_approve_erasure=auto_approve_erasure)
    if req.is_open:
        notices.acknowledge(customer, req)
    return req


def _objection_purpose(kind: RequestType, purpose: str | None) -> str | None:
    if kind != RequestType.OBJECTION:
        if purpose:
            raise ValidationFailed({"purpose": ["Only an objection names a purpose."]})
        return None
    if not purpose:
        raise ValidationFailed({"purpose": ["Name the purpose you object to."]})
    try:
        info = purpose_info(purpose)
    except UnknownPurpose:
        raise ValidationFailed({"purpose": [
            "No purpose with that name in the policy in effect."]}) from None
    if info.legal_basis != "legitimate-interest":
        raise ValidationFailed({"purpose": [
            "You can object only to a purpose based on legitimate interest; "
            "for one based on consent, withdraw your consent instead."]})
    return info.slug


def get_request(request_id: uuid.UUID | str) -> DataSubjectRequest:
    """The request with this id; :class:`RequestNotFound` for an unknown or malformed id."""
    return get_or_raise(db.session, DataSubjectRequest, request_id, RequestNotFound)


def customer_request(customer: Customer, request_id: uuid.UUID | str) -> DataSubjectRequest:
    """One of *this customer's* requests; another customer's id is simply not found."""
    req = get_request(request_id)
    if req.customer_id != customer.id:
        raise RequestNotFound()
    return req


_DEADLINE = sa.func.coalesce(DataSubjectRequest.extended_due_at, DataSubjectRequest.due_at)


def _filtered(query, *, status, type, overdue, due_within_days, customer, now):  # noqa: A002
    now = now or utcnow()
    if status is not None:
        statuses = [status] if isinstance(status, str) else list(status)
        query = query.where(DataSubjectRequest.status.in_(
            [parse_choice(RequestStatus, s, "status") for s in statuses]))
    if type is not None:
        query = query.where(DataSubjectRequest.type == parse_choice(RequestType, type, "type"))
    is_open = DataSubjectRequest.status.in_(OPEN_STATUSES)
    if overdue is not None:
        if not isinstance(overdue, bool):
            raise ValidationFailed({"overdue": ["Use true or false."]})
        late = sa.and_(is_open, _DEADLINE < now)
        query = query.where(late if overdue else sa.not_(late))
    if due_within_days is not None:
        if isinstance(due_within_days, bool) or not isinstance(due_within_days, int) \
                or not 0 <= due_within_days <= 366:
            raise ValidationFailed({"due_within_days": ["Use a number of days from 0 to 366."]})
        query = query.where(is_open, _DEADLINE >= now,
                            _DEADLINE <= now + dt.timedelta(days=due_within_days))
    if customer is not None:
        query = query.where(DataSubjectRequest.customer_id == customer.id)
    return query


def list_requests(*, status=None, type=None, overdue: bool | None = None,  # noqa: A002
                  due_within_days: int | None = None, customer: Customer | None = None,
                  limit: int = 50, offset: int = 0,
                  now: dt.datetime | None = None) -> list[DataSubjectRequest]:
    """Requests matching the filters, the nearest deadline first.

    ``status`` is one status or a list of them; ``overdue`` True keeps open
    requests past their deadline (False: all others); ``due_within_days``
    keeps open requests due from now to that many days ahead. Bad values
    raise :class:`ValidationFailed`.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed({"limit": [f"Use a number from 1 to {MAX_PAGE}."]})
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValidationFailed({"offset": ["Use a number of at least 0."]})
    query = _filtered(sa.select(DataSubjectRequest), status=status, type=type, overdue=overdue,
                      due_within_days=due_within_days, customer=customer, now=now)
    return list(db.session.scalars(
        query.order_by(_DEADLINE, DataSubjectRequest.received_at, DataSubjectRequest.id)
        .limit(limit).offset(offset)))


def count_requests(*, status=None, type=None, overdue: bool | None = None,  # noqa: A002
                   due_within_days: int | None = None, customer: Customer | None = None,
                   now: dt.datetime | None = None) -> int:
    """How many requests :func:`list_requests` would page through."""
    query = _filtered(sa.select(sa.func.count()).select_from(DataSubjectRequest), status=status,
                      type=type, overdue=overdue, due_within_days=due_within_days,
                      customer=customer, now=now)
    return db.session.scalar(query)


def overdue_requests(*, within_days: int = 0, now: dt.datetime | None = None
                     ) -> tuple[list[DataSubjectRequest], list[DataSubjectRequest]]:
    """(open requests past their deadline, open requests due within ``within_days`` days)."""
    if isinstance(within_days, bool) or not isinstance(within_days, int) or within_days < 0:
        raise ValidationFailed({"within_days": ["Use a number of days of at least 0."]})
    now = now or utcnow()

    def every(**filters) -> list[DataSubjectRequest]:
        query = _filtered(sa.select(DataSubjectRequest), status=None, type=None, customer=None,
                          now=now, **filters)
        return list(db.session.scalars(query.order_by(_DEADLINE, DataSubjectRequest.id)))

    late = every(overdue=True, due_within_days=None)
    soon = every(overdue=None, due_within_days=within_days) if within_days else []
    return late, soon


def requests_of(customer: Customer) -> list[DataSubjectRequest]:
    """All of the customer's requests, newest first (the portal's list)."""
    return list(db.session.scalars(
        sa.select(DataSubjectRequest).where(DataSubjectRequest.customer_id == customer.id)
        .order_by(DataSubjectRequest.received_at.desc(), DataSubjectRequest.id)))
