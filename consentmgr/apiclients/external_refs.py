"""Customers as a client knows them: its own reference (a CRM id) for upserts.

References are scoped per client: two systems may use the same reference
for different people. Creating and correcting go through the customers
service, which validates and audits; this module adds the mapping and
reports a clash of email addresses as a conflict.

A reference leads to the person in the client's own system, so it is
stored like an email address: a blind index (keyed HMAC, label
``external-ref``) of the client's id and the reference finds it, and the
reference itself is encrypted under the customer's data key, for the
record the API gives back (see :class:`~consentmgr.apiclients.models.ExternalRef`).
"""

from __future__ import annotations

import uuid
from typing import Any, Mapping

import sqlalchemy as sa

from consentmgr.apiclients.auth import AuthenticatedClient
from consentmgr.apiclients.models import ExternalRef
from consentmgr.apiclients.restriction import refuse_if_restricted
from consentmgr.crypto import BlindIndexer
from consentmgr.customers.models import Customer
from consentmgr.customers.services import (
    create_customer,
    find_by_email,
    get_customer,
    rectify_customer,
)
from consentmgr.errors import Conflict, ValidationFailed
from consentmgr.extensions import db
from consentmgr.runtime import of_session

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


def external_ref_indexer() -> BlindIndexer:
    """The blind indexer for API clients' external references."""
    return of_session(db.session).indexer("external-ref")


def indexed_text(client_id: uuid.UUID, external_ref: str) -> str:
    """What the blind index is computed over: the client's id and its reference.

    The client's id makes the index per client: the same reference sent by
    two clients gives two unrelated values, so equal values never tell that
    two systems know someone by the same id. (References are printable: no
    NUL, so no two pairs give the same text.)
    """
    return f"{client_id}\x00{external_ref}"


def customer_by_external_ref(client: AuthenticatedClient, external_ref: str) -> Customer | None:
    """The customer this client knows as ``external_ref``, or None.

    Matches under every configured blind-index key, so lookups keep working
    while the index is being moved to a new key.
    """
    candidates = external_ref_indexer().candidates(indexed_text(client.id, external_ref))
    customer_id = db.session.scalar(
        sa.select(ExternalRef.customer_id)
        .where(ExternalRef.client_id == client.id, ExternalRef.ref_index.in_(candidates)))
    return get_customer(customer_id) if customer_id is not None else None


def external_ref_of(client: AuthenticatedClient, customer: Customer) -> str | None:
    """This client's reference for ``customer``, if it gave one (decrypted)."""
    ref = db.session.scalar(
        sa.select(ExternalRef)
        .where(ExternalRef.client_id == client.id, ExternalRef.customer_id == customer.id))
    return ref.external_ref if ref is not None else None


def _remember_external_ref(client: AuthenticatedClient, customer: Customer,
                           external_ref: str) -> None:
    ref = ExternalRef(client_id=client.id, customer_id=customer.id,
                      ref_index=external_ref_indexer().compute(
                          indexed_text(client.id, external_ref)))
    ref.external_ref = external_ref  # encrypted under the customer's key: set after the owner
    db.session.add(ref)
    db.session.flush()


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
        _remember_external_ref(client, customer, ref)
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
