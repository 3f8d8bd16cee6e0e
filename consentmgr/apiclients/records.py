"""What an API client reads about customers, and the audit entry each read leaves.

Every read of a record is audited with the client as the actor and the
personal fields it returned (GDPR Art. 5(2), accountability); the
customer sees it on their portal. A lookup by email address is audited
too when it finds someone: it reveals that the address belongs to a
customer.
"""

from __future__ import annotations

import uuid
from typing import Any

from consentmgr.apiclients.auth import AuthenticatedClient
from consentmgr.apiclients.external_refs import external_ref_of
from consentmgr.apiclients.restriction import refuse_if_restricted
from consentmgr.audit import actions as audit_actions
from consentmgr.audit import services as audit
from consentmgr.customers.models import Customer, CustomerStatus
from consentmgr.customers.services import find_by_email, get_customer


def lookup_customer(client: AuthenticatedClient, email: str) -> Customer | None:
    """The customer with this email address (blind index, exact match), or None.

    A hit is audited (:data:`~consentmgr.audit.actions.API_CUSTOMER_LOOKUP`,
    field ``email``); a miss reveals nothing about anyone and is not.
    """
    customer = find_by_email(email)
    if customer is not None:
        audit.record(audit_actions.API_CUSTOMER_LOOKUP, actor=client.actor,
                     subject_id=customer.id, fields=["email"])
    return customer


def customer_record(client: AuthenticatedClient, customer: Customer, *,
                    with_history: bool) -> tuple[dict[str, Any], list[str]]:
    """The record a client may read and the personal fields it reveals (no audit entry).

    An erased record's key is destroyed: its personal fields and history
    are empty, and nothing counts as revealed.
    """
    record: dict[str, Any] = {
        "id": customer.id, "status": customer.status.value,
        "external_ref": external_ref_of(client, customer),
        "created_at": customer.created_at, "updated_at": customer.updated_at,
    }
    revealed: list[str] = []
    erased = customer.status == CustomerStatus.ERASED
    for field in Customer.PERSONAL_FIELDS:
        value = None if erased else getattr(customer, field)
        record[field] = value
        if value is not None:
            revealed.append(field)
    if with_history:
        record["history"] = [] if erased else [
            {"id": h.id, "occurred_at": h.occurred_at, "channel": h.channel, "kind": h.kind,
             "data_category": h.data_category, "summary": h.summary, "details": h.details}
            for h in customer.history
        ]
        if record["history"]:
            revealed.append("history")
    return record, revealed


def read_customer(client: AuthenticatedClient, customer_id: uuid.UUID, *,
                  with_history: bool) -> tuple[dict[str, Any], list[str]]:
    """A customer's record for ``client``, audited; returns it and the fields it reveals.

    Raises :class:`~consentmgr.customers.services.CustomerNotFound` (a 404)
    for an unknown id and
    :class:`~consentmgr.apiclients.restriction.CustomerRestricted` (a 409,
    nothing read, nothing audited) while processing is restricted. The entry
    (:data:`~consentmgr.audit.actions.API_CUSTOMER_READ`) names the fields
    returned; a read that reveals nothing (an erased record) leaves none.
    """
    customer = get_customer(customer_id, with_history=with_history)
    refuse_if_restricted(customer)
    record, revealed = customer_record(client, customer, with_history=with_history)
    if revealed:
        audit.record(audit_actions.API_CUSTOMER_READ, actor=client.actor,
                     subject_id=customer.id, fields=revealed)
    return record, revealed
