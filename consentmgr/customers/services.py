"""Rules for customer records: create, rectify, add history, look up.

Services validate, change, and ``flush()``; the request or command boundary
commits once, so a change and its audit entry commit or roll back together.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Collection, Mapping

import sqlalchemy as sa
from marshmallow import ValidationError
from sqlalchemy.orm import selectinload

from consentmgr.actors import Actor
from consentmgr.audit import actions as audit_actions
from consentmgr.audit import services as audit
from consentmgr.crypto import BlindIndexer, normalise_email
from consentmgr.customers.models import (
    Customer,
    CustomerStatus,
    HistoryEntry,
    PortalEmailChange,
    PortalSignInToken,
)
from consentmgr.customers.schemas import CustomerDetailsSchema, HistoryEntrySchema
from consentmgr.errors import Conflict, NotFound, ValidationFailed, flatten_messages
from consentmgr.extensions import db
from consentmgr.keys.services import destroy_data_keys
from consentmgr.runtime import of_session
from consentmgr.sql import get_or_raise

_details = CustomerDetailsSchema()
_email_only = CustomerDetailsSchema(only=("email",))
_history = HistoryEntrySchema()


class CustomerNotFound(NotFound):
    """No customer with that id (or email)."""

    def __init__(self) -> None:
        super().__init__("No customer with that id.")


class CustomerErased(Conflict):
    """The record was erased; nothing can be added to it."""

    def __init__(self) -> None:
        super().__init__("This customer's record has been erased.")


class RetainedByLaw(Conflict):
    """The record is kept only for a legal obligation: its restriction cannot be lifted."""

    def __init__(self) -> None:
        super().__init__("This record was erased except for what the law requires us to keep; "
                         "its processing stays restricted until the retention period ends.")


def email_indexer() -> BlindIndexer:
    """The blind indexer for customer email addresses."""
    return of_session(db.session).indexer("email")


def _validate(schema, data: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
    try:
        return schema.load(dict(data), partial=partial)
    except ValidationError as exc:
        raise ValidationFailed(flatten_messages(exc.normalized_messages())) from None


def validated_email(email: str) -> str:
    """``email`` if it is a valid address (the details rule), else :class:`ValidationFailed`."""
    return _validate(_email_only, {"email": email})["email"]


def email_in_use(email: str, *, exclude: uuid.UUID | None = None) -> bool:
    """True if a customer other than ``exclude`` has this address (after normalisation)."""
    indexer = email_indexer()
    query = sa.select(Customer.id).where(
        Customer.email_index.in_(indexer.candidates(normalise_email(email))))
    if exclude is not None:
        query = query.where(Customer.id != exclude)
    return db.session.scalar(query) is not None


def email_index_of(email: str) -> str:
    """The blind index to store for ``email``."""
    return email_indexer().compute(normalise_email(email))


def _ensure_email_free(email: str, *, exclude: uuid.UUID | None = None) -> str:
    # For trusted callers (staff, API clients, imports) only: the portal
    # never says whether an address is taken (see customers.email_change).
    if email_in_use(email, exclude=exclude):
        raise ValidationFailed({"email": ["Another customer already uses this email address."]})
    return email_index_of(email)


def create_customer(details: Mapping[str, Any], *, actor: Actor) -> Customer:
    """Validate ``details`` and add a new active customer with their own data key."""
    data = _validate(_details, details)
    customer = Customer(id=uuid.uuid4(), status=CustomerStatus.ACTIVE)
    customer.email_index = _ensure_email_free(data["email"])
    for field in Customer.PERSONAL_FIELDS:
        setattr(customer, field, data.get(field))
    db.session.add(customer)
    db.session.flush()
    audit.record(audit_actions.CUSTOMER_CREATED, actor=actor, subject_id=customer.id,
                 fields=[field for field in Customer.PERSONAL_FIELDS if data.get(field) is not None])
    return customer


def rectify_customer(customer: Customer, changes: Mapping[str, Any], *, actor: Actor) -> list[str]:
    """Correct some of a customer's details (GDPR Art. 16); returns changed field names."""
    if customer.status == CustomerStatus.ERASED:
        raise CustomerErased()
    data = _validate(_details, changes, partial=True)
    changed = [field for field, value in data.items() if getattr(customer, field) != value]
    if "email" in changed:
        customer.email_index = _ensure_email_free(data["email"], exclude=customer.id)
    for field in changed:
        setattr(customer, field, data[field])
    db.session.flush()
    if changed:
        audit.record(audit_actions.CUSTOMER_RECTIFIED, actor=actor, subject_id=customer.id, fields=changed)
    return changed


def add_history(customer: Customer, entry: Mapping[str, Any], *, actor: Actor) -> HistoryEntry:
    """Record an interaction with the customer."""
    if customer.status == CustomerStatus.ERASED:
        raise CustomerErased()
    data = _validate(_history, entry)
    item = HistoryEntry(customer=customer, id=uuid.uuid4())
    for field, value in data.items():
        setattr(item, field, value)
    db.session.add(item)
    db.session.flush()
    audit.record(audit_actions.CUSTOMER_HISTORY_ADDED, actor=actor, subject_id=customer.id,
                 details={"history_id": str(item.id), "kind": item.kind, "channel": item.channel})
    return item


def find_by_email(email: str) -> Customer | None:
    """The customer with this email address (exact match after normalisation)."""
    candidates = email_indexer().candidates(normalise_email(email))
    return db.session.scalar(sa.select(Customer).where(Customer.email_index.in_(candidates)))


def get_customer(customer_id: uuid.UUID | str, *, with_history: bool = False) -> Customer:
    """The customer with this id; raises :class:`CustomerNotFound`."""
    options = [selectinload(Customer.history)] if with_history else []
    return get_or_raise(db.session, Customer, customer_id, CustomerNotFound, options=options)


def restrict_processing(customer: Customer, *, actor: Actor) -> None:
    """Restrict processing (GDPR Art. 18): kept, but every consent check says no."""
    if customer.status == CustomerStatus.ERASED:
        raise CustomerErased()
    if customer.status == CustomerStatus.RESTRICTED:
        return
    customer.status = CustomerStatus.RESTRICTED
    db.session.flush()
    audit.record(audit_actions.CUSTOMER_RESTRICTED, actor=actor, subject_id=customer.id)


def lift_restriction(customer: Customer, *, actor: Actor) -> None:
    """End a restriction of processing (GDPR Art. 18(3)).

    A record kept only for a legal obligation after an erasure
    (``retained_until`` set) stays restricted: :class:`RetainedByLaw`.
    """
    if customer.status != CustomerStatus.RESTRICTED:
        return
    if customer.retained_until is not None:
        raise RetainedByLaw()
    customer.status = CustomerStatus.ACTIVE
    db.session.flush()
    audit.record(audit_actions.CUSTOMER_UNRESTRICTED, actor=actor, subject_id=customer.id)


def _clear_record(customer: Customer, *, keep: Collection[uuid.UUID] = ()) -> None:
    """Clear the fields, email index, sign-in tokens, email changes and history but ``keep``."""
    for field in Customer.PERSONAL_FIELDS:
        setattr(customer, f"_{field}", None)
    customer.email_index = None
    wipe = sa.update(HistoryEntry).where(HistoryEntry.customer_id == customer.id)
    if keep:
        wipe = wipe.where(HistoryEntry.id.not_in(list(keep)))
    db.session.execute(wipe.values(_summary=None, _details=None),
                       execution_options={"synchronize_session": False})
    db.session.execute(sa.delete(PortalSignInToken)
                       .where(PortalSignInToken.customer_id == customer.id))
    db.session.execute(sa.delete(PortalEmailChange)
                       .where(PortalEmailChange.customer_id == customer.id))


def erase_customer(customer: Customer, *, actor: Actor) -> int:
    """Erase a customer (GDPR Art. 17) by crypto-shredding; returns keys destroyed.

    The customer's data keys are destroyed, so every copy of their fields —
    including old backups of the main database — becomes unreadable. The
    ciphertexts, the email index and the portal sign-in tokens are cleared
    as well; the record keeps only its id and status so that the consent
    ledger and the audit trail, which hold no personal data, still make sense.
    """
    if customer.status == CustomerStatus.ERASED:
        raise CustomerErased()
    _clear_record(customer)
    customer.status = CustomerStatus.ERASED
    customer.retained_until = None
    destroyed = destroy_data_keys(db.session, customer.id)
    db.session.flush()
    # History rows loaded in this session still hold the old ciphertext.
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, HistoryEntry) and obj.customer_id == customer.id:
            db.session.expire(obj)
    audit.record(audit_actions.CUSTOMER_ERASED, actor=actor, subject_id=customer.id,
                 details={"keys_destroyed": destroyed})
    return destroyed


def erase_customer_except(
    customer: Customer, keep: Collection[uuid.UUID], *, actor: Actor,
    retained_until: dt.datetime,
) -> int:
    """Erase everything but the history entries ``keep`` (GDPR Art. 17(3)(b)); returns entries kept.

    The kept entries stay encrypted under the customer's data key (so the
    key survives until :func:`erase_customer` finishes the job after
    ``retained_until``); everything else is cleared, and the record is
    restricted (Art. 18(1)(b)): kept, never otherwise processed.
    """
    if customer.status == CustomerStatus.ERASED:
        raise CustomerErased()
    _clear_record(customer, keep=keep)
    customer.retained_until = retained_until
    db.session.flush()
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, HistoryEntry) and obj.customer_id == customer.id:
            db.session.expire(obj)
    audit.record(audit_actions.CUSTOMER_ERASED, actor=actor, subject_id=customer.id,
                 details={"keys_destroyed": 0, "history_kept": len(keep)})
    restrict_processing(customer, actor=actor)
    return len(keep)
