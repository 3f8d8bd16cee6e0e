"""Staff access to customer records: find, view masked, reveal with a reason.

Every step leaves an audit entry in the caller's transaction, holding ids
and field names only (GDPR Art. 5(2) accountability; Art. 32 access
control). A search records how it searched and whether it found someone,
never the term. A reveal records the field, the reason code, the
justification and a ticket reference; a reveal refused for want of a
reason is recorded too, with outcome ``denied``.

The screens must **commit** the reveal's entry before they show the value
(:func:`reveal_field` only flushes, like every service): a value is never
on screen without a durable record of who asked for it and why. A refused
reveal's entry is kept too (:class:`RevealRefused` ``keeps_record``).
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import uuid
from dataclasses import dataclass
from typing import Any, Callable

from consentmgr.actors import Actor
from consentmgr.audit import actions
from consentmgr.audit import services as audit
from consentmgr.audit.services import MAX_JUSTIFICATION
from consentmgr.customers.models import Customer, CustomerStatus
from consentmgr.customers.services import (
    CustomerErased,
    CustomerNotFound,
    find_by_email,
    get_customer,
)
from consentmgr.errors import Conflict, NotFound, ValidationFailed
from consentmgr.i18n import gettext, lazy_gettext, ngettext
from consentmgr.staff import masking
from consentmgr.staff.models import StaffRole

MIN_JUSTIFICATION = 10
MAX_TICKET = 40
_TICKET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._#:/-]*$")


class RevealReason(enum.StrEnum):
    """Why a staff member needs a value in clear (recorded with the reveal)."""

    SUPPORT_TICKET = "support-ticket"
    CUSTOMER_REQUEST = "customer-request"
    LEGAL_OBLIGATION = "legal-obligation"
    FRAUD_INVESTIGATION = "fraud-investigation"
    DATA_SUBJECT_REQUEST = "data-subject-request"


REASON_LABELS = {
    RevealReason.SUPPORT_TICKET: lazy_gettext(
        "Customer-initiated support (ticket reference required)"),
    RevealReason.CUSTOMER_REQUEST: lazy_gettext("The customer asked for it (e.g. on the phone)"),
    RevealReason.LEGAL_OBLIGATION: lazy_gettext("Legal obligation"),
    RevealReason.FRAUD_INVESTIGATION: lazy_gettext("Fraud investigation"),
    RevealReason.DATA_SUBJECT_REQUEST: lazy_gettext(
        "Data-subject request (access, rectification, erasure, ...)"),
}


@dataclass(frozen=True)
class HistoryItem:
    """One interaction, summary included (only after a reveal)."""

    occurred_at: dt.datetime
    channel: str
    kind: str
    data_category: str
    summary: str | None


def _history(customer: Customer) -> list[HistoryItem] | None:
    return [HistoryItem(h.occurred_at, h.channel, h.kind, h.data_category, h.summary)
            for h in customer.history] or None


@dataclass(frozen=True)
class FieldSpec:
    """A field staff can see masked and reveal."""

    name: str
    label: str
    read: Callable[[Customer], Any]
    mask: Callable[[Any], str]
    # What the mask needs, when less than the value (a count, not the texts):
    # the masked screen must not decrypt what it does not show.
    peek: Callable[[Customer], Any] | None = None


FIELDS: dict[str, FieldSpec] = {spec.name: spec for spec in (
    FieldSpec("email", lazy_gettext("Email address"), lambda c: c.email, masking.mask_email),
    FieldSpec("name", lazy_gettext("Name"), lambda c: c.name, masking.mask_name),
    FieldSpec("phone", lazy_gettext("Phone number"), lambda c: c.phone, masking.mask_phone),
    FieldSpec("postal_address", lazy_gettext("Postal address"), lambda c: c.postal_address,
              masking.mask_postal_address),
    FieldSpec("date_of_birth", lazy_gettext("Date of birth"), lambda c: c.date_of_birth,
              masking.mask_date_of_birth),
    FieldSpec("preferences", lazy_gettext("Preferences"), lambda c: c.preferences,
              masking.mask_preferences),
    FieldSpec("history", lazy_gettext("Interaction summaries"), _history,
              lambda count: (ngettext("%(num)d hidden", "%(num)d hidden", count) if count
                             else masking.NOT_RECORDED),
              peek=lambda c: len(c.history)),
)}


@dataclass(frozen=True)
class MaskedField:
    """A field as the record screen shows it by default."""

    name: str
    label: str
    masked: str
    recorded: bool


@dataclass(frozen=True)
class Revealed:
    """A value shown in clear, once, after its audit entry."""

    field: str
    label: str
    value: Any


class UnknownField(NotFound):
    """Not a field staff can reveal."""

    def __init__(self) -> None:
        super().__init__(gettext("There is no such field on a customer record."))


class RevealRefused(ValidationFailed):
    """The reason or justification was missing or unusable; recorded as denied."""

    keeps_record = True  # the denied customer.reveal entry


class RevealRestricted(Conflict):
    """The record is restricted (GDPR Art. 18): only the DPO may see its values.

    The attempt is recorded as denied before this is raised.
    """

    keeps_record = True

    def __init__(self) -> None:
        super().__init__(gettext("Processing of this customer's data is restricted (GDPR Art. "
                                 "18): only the data protection officer can reveal its values."))


class NothingToReveal(Conflict):
    """The field holds no value."""

    def __init__(self) -> None:
        super().__init__(gettext("Nothing is recorded in this field."))


def _audit_context(client_address: str | None, request_id: str | None) -> dict[str, Any]:
    return {"client_address": client_address, "request_id": request_id}


def find_customer(query: str, *, actor: Actor, client_address: str | None = None,
                  request_id: str | None = None) -> Customer | None:
    """The customer with this exact email address (blind index) or customer id.

    Records ``customer.search`` with how it searched and whether it found
    anyone — never the term, which is personal data. Raises
    :class:`ValidationFailed` for something that is neither.
    """
    term = query.strip() if isinstance(query, str) else ""
    try:
        customer_id = uuid.UUID(term)
    except ValueError:
        customer_id = None
    if customer_id is not None:
        by = "id"
        try:
            found = get_customer(customer_id)
        except CustomerNotFound:
            found = None
    elif "@" in term and len(term) <= 254:
        by, found = "email", find_by_email(term)
    else:
        raise ValidationFailed({"query": [
            gettext("Enter the customer's exact email address or their customer id.")]})
    audit.record(actions.CUSTOMER_SEARCH, actor=actor, details={"by": by, "found": found is not None},
                 **_audit_context(client_address, request_id))
    return found


def view_customer(customer_id: uuid.UUID | str, *, actor: Actor, screen: str = "record",
                  client_address: str | None = None, request_id: str | None = None) -> Customer:
    """Load a record for a staff screen and record ``customer.view`` (values stay masked).

    ``screen`` names what was shown (``record``, ``consent``). Raises
    :class:`CustomerNotFound` (nothing is recorded: there is no subject).
    """
    customer = get_customer(customer_id, with_history=True)
    audit.record(actions.CUSTOMER_VIEW, actor=actor, subject_id=customer.id,
                 details={"screen": screen}, **_audit_context(client_address, request_id))
    return customer


def masked_fields(customer: Customer) -> list[MaskedField]:
    """Every revealable field, masked, in display order."""
    fields = []
    for spec in FIELDS.values():
        value = None
        if customer.status != CustomerStatus.ERASED:
            value = (spec.peek or spec.read)(customer)
        fields.append(MaskedField(spec.name, spec.label,
                                  spec.mask(value) if value else masking.NOT_RECORDED, bool(value)))
    return fields


@dataclass(frozen=True)
class HistoryRow:
    """An interaction as the record screen lists it: when, how, what kind (no summary)."""

    occurred_at: dt.datetime
    channel: str
    kind: str
    data_category: str


@dataclass(frozen=True)
class MaskedRecord:
    """A customer record as staff see it by default: plain values, safe to use after a commit."""

    id: str
    status: str
    created_at: dt.datetime
    fields: list[MaskedField]
    history: list[HistoryRow]


def masked_record(customer: Customer) -> MaskedRecord:
    """The record with every personal value masked (history without summaries)."""
    return MaskedRecord(
        id=str(customer.id), status=CustomerStatus(customer.status).value,
        created_at=customer.created_at, fields=masked_fields(customer),
        history=[HistoryRow(h.occurred_at, h.channel, h.kind, h.data_category)
                 for h in customer.history],
    )


def _mentions_customer(customer: Customer, text: str) -> bool:
    """A cheap guard, not a guarantee: the justification names the customer's details."""
    folded = text.casefold()
    for value in (customer.email, customer.name):
        if value and len(value) >= 3 and value.casefold() in folded:
            return True
    phone_digits = re.sub(r"\D", "", customer.phone or "")
    return len(phone_digits) >= 6 and phone_digits[-6:] in re.sub(r"\D", "", text)


def _reason_problems(customer: Customer, reason_code: str | None, justification: str | None,
                     ticket: str | None) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    try:
        reason = RevealReason(reason_code or "")
    except ValueError:
        reason = None
        errors["reason_code"] = [gettext("Choose why you need to see this value.")]
    if reason == RevealReason.SUPPORT_TICKET and not ticket:
        errors["ticket_reference"] = [gettext("Enter the support ticket's reference.")]
    elif ticket and (len(ticket) > MAX_TICKET or not _TICKET.match(ticket)):
        errors["ticket_reference"] = [
            gettext("A ticket reference is up to %(max)s letters, digits, spaces and . _ # : / -.",
                    max=MAX_TICKET)]
    if not justification:
        errors["justification"] = [gettext("Say why you need to see this value.")]
    elif len(justification) < MIN_JUSTIFICATION:
        errors["justification"] = [gettext("Say a little more (at least %(min)s characters).",
                                           min=MIN_JUSTIFICATION)]
    elif len(justification) > MAX_JUSTIFICATION:
        errors["justification"] = [gettext("Keep it to %(max)s characters or fewer.",
                                           max=MAX_JUSTIFICATION)]
    elif not all(c.isprintable() or c == "\n" for c in justification):
        errors["justification"] = [
            gettext("The justification contains characters that cannot be stored.")]
    elif "@" in justification or _mentions_customer(customer, justification):
        # The audit trail must hold no personal data (it is kept for years
        # and shown to the DPO): the record is already named by its id.
        errors["justification"] = [
            gettext("Leave the customer's details out of the justification; the record is "
                    "already identified.")]
    return errors


def reveal_field(
    customer: Customer,
    field: str,
    *,
    actor: Actor,
    reason_code: str | None,
    justification: str | None,
    ticket_reference: str | None = None,
    client_address: str | None = None,
    request_id: str | None = None,
) -> Revealed:
    """Show one field in clear, recording ``customer.reveal`` with the reason.

    Raises :class:`UnknownField`, :class:`CustomerErased`,
    :class:`RevealRestricted` (a restricted record, for anyone but the DPO;
    recorded as denied), :class:`NothingToReveal`, or
    :class:`RevealRefused` (after recording the
    attempt with outcome ``denied``) when the reason code, the
    justification or — for a support ticket — the ticket reference is
    missing or unusable. Flushes only: **commit before showing the value**.
    """
    spec = FIELDS.get(field)
    if spec is None:
        raise UnknownField()
    if customer.status == CustomerStatus.ERASED:
        raise CustomerErased()
    if customer.status == CustomerStatus.RESTRICTED and actor.role != StaffRole.DPO:
        # GDPR Art. 18(2): a restricted record is stored, not otherwise processed.
        audit.record(actions.CUSTOMER_REVEAL, actor=actor, outcome=actions.DENIED,
                     subject_id=customer.id, fields=[field],
                     details={"refused_for": "restricted"},
                     **_audit_context(client_address, request_id))
        raise RevealRestricted()
    justification = justification.strip() if isinstance(justification, str) else None
    ticket = ticket_reference.strip() if isinstance(ticket_reference, str) else None
    context = _audit_context(client_address, request_id)
    problems = _reason_problems(customer, reason_code, justification, ticket)
    if problems:
        # Neither the refused text nor the ticket is kept: they failed the checks.
        audit.record(actions.CUSTOMER_REVEAL, actor=actor, outcome=actions.DENIED,
                     subject_id=customer.id, fields=[field],
                     reason_code=None if "reason_code" in problems else reason_code,
                     details={"refused_for": " ".join(sorted(problems))}, **context)
        raise RevealRefused(problems, gettext("A reason is needed before the value can be shown."))
    value = spec.read(customer)
    if not value:
        raise NothingToReveal()
    audit.record(actions.CUSTOMER_REVEAL, actor=actor, subject_id=customer.id, fields=[field],
                 reason_code=reason_code, justification=justification,
                 details={"ticket": ticket} if ticket else None, **context)
    return Revealed(field=field, label=spec.label, value=value)
