"""Customers as a client knows them: its own reference (a CRM id) for upserts.

References are scoped per client: two systems may use the same reference
for different people. Creating and correcting go through the customers
service, which validates and audits; this module adds the mapping and
reports a clash of email addresses as a conflict.
"""

from __future__ import annotations

import uuid
from typing import Any, Mapping

import sqlalchemy as sa

from consentmgr.apiclients.auth import AuthenticatedClient
from consentmgr.apiclients.models import ExternalRef
from consentmgr.apiclients.restriction import refuse_if_restricted
from consentmgr.customers.models import Customer
from consentmgr.customers.services import (
    create_customer,
    find_by_email,
    get_customer,
    rectify_customer,
)
from consentmgr.errors import Conflict, ValidationFailed
from consentmgr.extensions import db

MAX_EXTERNAL_REF = 128


class EmailInUse(Conflict):
    """Another customer already has this email address: a conflict with stored data.

    The customers service reports it as invalid input (right for a form);
    to an integrating system it is a 409, like any clash with existing state.
    """

    def __init__(self) -> None:
        self.errors = {"email": ["Another customer already uses this email address."]}
        super().__init__("Another customer already uses this email address.")


def _clean_external_ref(external_ref: Any) -> str:
    if (not isinstance(external_ref, str) or not external_ref
            or len(external_ref) > MAX_EXTERNAL_REF or not external_ref.isprintable()):
        raise ValidationFailed({"external_ref": [
            f"Use 1 to {MAX_EXTERNAL_REF} printable characters: your own id for the customer."]})
    return external_ref


def customer_by_external_ref(client: AuthenticatedClient, external_ref: str) -> Customer | None:
    """The customer this client knows as ``external_ref``, or None."""
    customer_id = db.session.scalar(
        sa.select(ExternalRef.customer_id)
        .where(ExternalRef.client_id == client.id, ExternalRef.external_ref == external_ref))
    return get_customer(customer_id) if customer_id is not None else None


def external_ref_of(client: AuthenticatedClient, customer: Customer) -> str | None:
    """This client's reference for ``customer``, if it gave one."""
    return db.session.scalar(
        sa.select(ExternalRef.external_ref)
        .where(ExternalRef.client_id == client.id, ExternalRef.customer_id == customer.id))


def _ensure_email_free(details: Mapping[str, Any], *, exclude: uuid.UUID | None) -> None:
    email = details.get("email")
    if isinstance(email, str) and email:
        other = find_by_email(email)
        if other is not None and other.id != exclude:
            raise EmailInUse()


def upsert_customer(
    client: AuthenticatedClient, details: Mapping[str, Any], *, external_ref: str | None,
) -> tuple[Customer, bool]:
    """Create a customer, or update the one this client knows as ``external_ref``.

    Returns the customer and True if it was created. Without an
    ``external_ref`` this always creates. An update is a rectification
    (GDPR Art. 16) of the fields sent, audited by the customers service.
    Raises :class:`EmailInUse` when another customer has the address, and
    :class:`~consentmgr.apiclients.restriction.CustomerRestricted` when the
    customer to update is restricted (GDPR Art. 18).
    """
    actor = client.actor
    ref = _clean_external_ref(external_ref) if external_ref is not None else None
    existing = customer_by_external_ref(client, ref) if ref is not None else None
    if existing is not None:
        refuse_if_restricted(existing)
    _ensure_email_free(details, exclude=existing.id if existing is not None else None)
    if existing is not None:
        rectify_customer(existing, details, actor=actor)
        return existing, False
    customer = create_customer(details, actor=actor)
    if ref is not None:
        db.session.add(ExternalRef(client_id=client.id, external_ref=ref, customer_id=customer.id))
        db.session.flush()
    return customer, True


def correct_customer(
    client: AuthenticatedClient, customer: Customer, changes: Mapping[str, Any],
) -> list[str]:
    """Rectify some of a customer's details for a client (GDPR Art. 16); returns changed fields.

    Raises :class:`EmailInUse` when another customer has the new address,
    and :class:`~consentmgr.apiclients.restriction.CustomerRestricted` while
    the customer's processing is restricted (GDPR Art. 18).
    """
    refuse_if_restricted(customer)
    _ensure_email_free(changes, exclude=customer.id)
    return rectify_customer(customer, changes, actor=client.actor)
