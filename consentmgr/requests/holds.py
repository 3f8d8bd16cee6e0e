"""Legal holds: an Art. 17(3) exception that holds a customer's erasure back.

The DPO places one with a coded exception (a legal obligation to keep the
data, or legal claims) and lifts it when it no longer applies. While one is
active, an erasure request is refused with that exception.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from consentmgr.actors import Actor
from consentmgr.audit import actions
from consentmgr.audit import services as audit
from consentmgr.customers.models import Customer, CustomerStatus
from consentmgr.customers.services import CustomerErased
from consentmgr.errors import ValidationFailed
from consentmgr.extensions import db
from consentmgr.requests.errors import HoldAlreadyLifted, LegalHoldNotFound
from consentmgr.requests.lifecycle import clean_text
from consentmgr.requests.models import HOLD_EXCEPTIONS, LegalHold, RefusalReason
from consentmgr.sql import get_or_raise, utcnow


def place_legal_hold(customer: Customer, *, actor: Actor, exception: RefusalReason | str,
                     note: str | None = None) -> LegalHold:
    """Hold the customer's erasure back under an Art. 17(3)(b) or (e) exception."""
    if customer.status == CustomerStatus.ERASED:
        raise CustomerErased()
    try:
        code = RefusalReason(exception)
    except ValueError:
        code = None
    if code not in HOLD_EXCEPTIONS:
        raise ValidationFailed({"exception": [
            "Choose the exception: legal-obligation (Art. 17(3)(b)) or legal-claims (Art. 17(3)(e))."]})
    text = clean_text(note, "note", required=False)
    hold = LegalHold(id=uuid.uuid4(), customer_id=customer.id, exception=code,
                     placed_at=utcnow(), placed_by=str(actor)[:128])
    if text:
        hold.note = text
    db.session.add(hold)
    db.session.flush()
    audit.record(actions.LEGAL_HOLD_PLACED, actor=actor, subject_id=customer.id,
                 details={"hold_id": str(hold.id), "exception": code.value})
    return hold


def lift_legal_hold(hold: LegalHold, *, actor: Actor) -> LegalHold:
    """End a legal hold; an erasure request filed afterwards can go ahead."""
    if not hold.active:
        raise HoldAlreadyLifted()
    hold.lifted_at = utcnow()
    hold.lifted_by = str(actor)[:128]
    db.session.flush()
    audit.record(actions.LEGAL_HOLD_LIFTED, actor=actor, subject_id=hold.customer_id,
                 details={"hold_id": str(hold.id), "exception": RefusalReason(hold.exception).value})
    return hold


def get_legal_hold(hold_id: uuid.UUID | str) -> LegalHold:
    """The hold with this id; :class:`LegalHoldNotFound` for an unknown or malformed id."""
    return get_or_raise(db.session, LegalHold, hold_id, LegalHoldNotFound)


def active_holds(customer: Customer) -> list[LegalHold]:
    """The customer's holds not yet lifted, oldest first."""
    return list(db.session.scalars(
        sa.select(LegalHold).where(LegalHold.customer_id == customer.id,
                                   LegalHold.lifted_at.is_(None))
        .order_by(LegalHold.placed_at)))


def holds_of(customer: Customer) -> list[LegalHold]:
    """Every hold of the customer, active or lifted, newest first."""
    return list(db.session.scalars(
        sa.select(LegalHold).where(LegalHold.customer_id == customer.id)
        .order_by(LegalHold.placed_at.desc())))
