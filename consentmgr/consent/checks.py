"""The consent check: "may I use this customer's data for purpose P now?".

:func:`decide` holds the rules; :func:`check_consent` answers one pair with
one query (the API's hot path), :func:`check_many` a batch with two.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, Sequence

import sqlalchemy as sa

from consentmgr.consent.catalogue import Catalogue, PurposeInfo, UnknownPurpose, catalogue
from consentmgr.consent.models import ConsentState, ConsentStatus
from consentmgr.customers.models import Customer, CustomerStatus
from consentmgr.customers.services import CustomerNotFound
from consentmgr.errors import NotFound
from consentmgr.extensions import db
from consentmgr.prepared import PreparedSelect
from consentmgr.sql import as_uuid


@dataclass(frozen=True)
class ConsentDecision:
    """The answer to "may I use this customer's data for this purpose?"."""

    customer_id: uuid.UUID
    purpose: str
    allowed: bool
    status: str
    policy_version: str | None
    reason: str
    updated_at: dt.datetime | None


def decide(
    info: PurposeInfo, cat: Catalogue, customer_id: uuid.UUID,
    customer_status: str, state: Any | None,
) -> ConsentDecision:
    """Apply the rules to one customer's state for one purpose.

    ``state`` is a :class:`ConsentState` or a row with the same columns.
    """
    version = state.policy_version if state is not None else None
    updated = state.updated_at if state is not None else None

    def answer(allowed: bool, status: str, reason: str) -> ConsentDecision:
        return ConsentDecision(customer_id, info.slug, allowed, status,
                               version or cat.version, reason, updated)

    if customer_status == CustomerStatus.ERASED:
        return answer(False, "erased", "erased")
    if customer_status == CustomerStatus.RESTRICTED:
        # GDPR Art. 18: a restricted record may be stored, not otherwise used.
        return answer(False, ConsentStatus(state.status).value if state else "restricted", "restricted")
    status = ConsentStatus(state.status) if state is not None else None
    if info.legal_basis == "legitimate-interest":
        # GDPR Art. 21: an objection stops the processing (for direct marketing, at once).
        if status == ConsentStatus.OBJECTED:
            return answer(False, "objected", "objected")
        return answer(True, ConsentStatus.NOT_REQUIRED.value, "legitimate-interest")
    if info.legal_basis != "consent":
        return answer(True, ConsentStatus.NOT_REQUIRED.value, info.legal_basis)
    if status is None:
        return answer(False, ConsentStatus.NOT_GIVEN.value, "not-given")
    if status == ConsentStatus.GIVEN:
        given_under = cat.effective_dates.get(state.policy_version)
        if given_under is None or given_under < info.material_since:
            return answer(False, ConsentStatus.RENEWAL_REQUIRED.value, "renewal-required")
        return answer(True, ConsentStatus.GIVEN.value, "consent-given")
    return answer(False, status.value, status.value)


def _customer_uuid(customer_id: uuid.UUID | str) -> uuid.UUID:
    key = as_uuid(customer_id)
    if key is None:
        raise CustomerNotFound()
    return key


_STATE = ConsentState.__table__.c
_CUSTOMERS = Customer.__table__.c
# Built and compiled once: the hot path only binds parameters.
CHECK_QUERY = PreparedSelect(
    sa.select(_CUSTOMERS.status, _STATE.status.label("state_status"), _STATE.policy_version,
              _STATE.updated_at)
    .select_from(Customer.__table__)
    .outerjoin(ConsentState.__table__,
               sa.and_(_STATE.customer_id == _CUSTOMERS.id,
                       _STATE.purpose == sa.bindparam("purpose")))
    .where(_CUSTOMERS.id == sa.bindparam("customer_id"))
)


@dataclass(frozen=True)
class _StateRow:
    status: str
    policy_version: str
    updated_at: dt.datetime


def check_consent(
    customer_id: uuid.UUID | str, purpose_slug: str, *, today: dt.date | None = None
) -> ConsentDecision:
    """May this customer's data be used for this purpose now? One query.

    Raises :class:`CustomerNotFound` or :class:`UnknownPurpose`.
    """
    cat = catalogue(today)
    info = cat.purposes.get(purpose_slug)
    if info is None:
        raise UnknownPurpose(purpose_slug)
    key = _customer_uuid(customer_id)
    params = {"customer_id": key, "purpose": purpose_slug}
    if db.session.registry.has() and db.session().in_transaction():
        # Inside a unit of work: see its own uncommitted changes.
        row = db.session.connection().execute(CHECK_QUERY.statement, params).one_or_none()
    else:
        # The hot path (the API's read-only check): one statement on the driver.
        row = CHECK_QUERY.first(db.engine, params)
    if row is None:
        raise CustomerNotFound()
    customer_status, state_status, policy_version, updated_at = row
    found = _StateRow(state_status, policy_version, updated_at) if state_status else None
    return decide(info, cat, key, customer_status, found)


def check_many(
    pairs: Sequence[tuple[uuid.UUID | str, str]], *, today: dt.date | None = None
) -> list[ConsentDecision | NotFound]:
    """Check many customer/purpose pairs with two queries.

    Each result is a decision, or the :class:`NotFound` error for that pair
    (unknown customer or purpose), in the order given.
    """
    cat = catalogue(today)
    keys: list[uuid.UUID | None] = []
    for customer_id, _ in pairs:
        try:
            keys.append(_customer_uuid(customer_id))
        except CustomerNotFound:
            keys.append(None)
    wanted = sorted({k for k in keys if k is not None})
    statuses: dict[uuid.UUID, str] = {}
    states: dict[tuple[uuid.UUID, str], ConsentState] = {}
    for start in range(0, len(wanted), 500):
        batch = wanted[start : start + 500]
        statuses.update(db.session.execute(
            sa.select(Customer.id, Customer.status).where(Customer.id.in_(batch))).all())
        for state in db.session.scalars(
                sa.select(ConsentState).where(ConsentState.customer_id.in_(batch))):
            states[(state.customer_id, state.purpose)] = state
    results: list[ConsentDecision | NotFound] = []
    for key, (_, slug) in zip(keys, pairs):
        info = cat.purposes.get(slug)
        if key is None or key not in statuses:
            results.append(CustomerNotFound())
        elif info is None:
            results.append(UnknownPurpose(slug))
        else:
            results.append(decide(info, cat, key, statuses[key], states.get((key, slug))))
    return results
