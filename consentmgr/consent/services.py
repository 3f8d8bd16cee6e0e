"""Rules of the consent ledger: record choices, answer "may I use this data?".

Every change appends a :class:`ConsentEvent`, upserts the customer's
:class:`ConsentState` for that purpose and writes an audit entry, in the
caller's transaction. The audit append is taken first: it serialises
writers, so event order, state and the change-feed cursor always agree.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite

from consentmgr.actors import Actor
from consentmgr.audit import services as audit
from consentmgr.audit.models import AuditEntry
from consentmgr.consent.models import (
    STATUS_AFTER,
    Channel,
    ConsentAction,
    ConsentEvent,
    ConsentState,
    ConsentStatus,
)
from consentmgr.crypto import BlindIndexer
from consentmgr.customers.models import Customer, CustomerStatus
from consentmgr.customers.services import CustomerErased, CustomerNotFound
from consentmgr.errors import Conflict, NotFound, ValidationFailed
from consentmgr.extensions import db
from consentmgr.policies.models import PolicyPurpose, PolicyVersion, PurposeChangeKind
from consentmgr.policies.services import PolicyNotFound, get_purpose
from consentmgr.prepared import PreparedSelect


class UnknownPurpose(NotFound):
    """The current policy defines no purpose with that slug."""

    def __init__(self, slug: str) -> None:
        self.slug = slug
        super().__init__("The current privacy policy defines no purpose with that name.")


class ConsentNotApplicable(Conflict):
    """The action does not fit the purpose's legal basis."""


class NoPolicyPublished(NotFound):
    """No policy version is in effect yet: nothing can be consented to."""

    def __init__(self) -> None:
        super().__init__("No privacy policy is in effect yet.")


# ------------------------------------------------------------------ purposes


@dataclass(frozen=True)
class PurposeInfo:
    """What the ledger needs to know of a purpose in the policy now in effect."""

    slug: str
    title: str
    legal_basis: str
    notice_hash: str
    sale_or_share: bool
    direct_marketing: bool
    version: str
    # Effective date of the version that introduced the purpose or last changed
    # it materially: consent given under an older version must be renewed.
    material_since: dt.date


@dataclass(frozen=True)
class Catalogue:
    """The purposes in effect on one day, and every version's effective date."""

    version: str
    effective_date: dt.date
    purposes: dict[str, PurposeInfo]
    effective_dates: dict[str, dt.date]


_CATALOGUE_TTL = 30.0  # seconds; other processes see a new policy within this
_catalogue_lock = threading.Lock()
_catalogues: dict[tuple[int, dt.date], tuple[float, Catalogue | None]] = {}


def forget_catalogues() -> None:
    """Drop cached catalogues (a new policy was published, or tests reset data)."""
    with _catalogue_lock:
        _catalogues.clear()


@sa.event.listens_for(PolicyVersion, "after_insert")
def _policy_published(mapper: Any, connection: Any, target: Any) -> None:
    forget_catalogues()


def _today(today: dt.date | None) -> dt.date:
    return today or dt.datetime.now(dt.timezone.utc).date()


def catalogue(today: dt.date | None = None) -> Catalogue:
    """The purposes in effect ``today`` (cached: policies are immutable)."""
    day = _today(today)
    key = (id(current_app._get_current_object()), day)
    cached = _catalogues.get(key)
    if cached is not None and time.monotonic() - cached[0] < _CATALOGUE_TTL:
        result = cached[1]
    else:
        result = _build_catalogue(day)
        with _catalogue_lock:
            _catalogues[key] = (time.monotonic(), result)
    if result is None:
        raise NoPolicyPublished()
    return result


def _build_catalogue(day: dt.date) -> Catalogue | None:
    versions = db.session.execute(
        sa.select(PolicyVersion.id, PolicyVersion.version, PolicyVersion.effective_date)
        .order_by(PolicyVersion.effective_date)
    ).all()
    in_effect = [v for v in versions if v.effective_date <= day]
    if not in_effect:
        return None
    current = in_effect[-1]
    rows = db.session.execute(
        sa.select(PolicyPurpose, PolicyVersion.effective_date)
        .join(PolicyVersion)
        .where(PolicyVersion.effective_date <= day)
        .order_by(PolicyVersion.effective_date, PolicyPurpose.position)
    ).all()
    material_since: dict[str, dt.date] = {}
    present: dict[str, int] = {}
    for purpose, effective in rows:
        if purpose.change_kind != PurposeChangeKind.UNCHANGED or purpose.slug not in material_since:
            material_since[purpose.slug] = effective
        present[purpose.slug] = purpose.policy_version_id
    purposes = {
        purpose.slug: PurposeInfo(
            slug=purpose.slug, title=purpose.title, legal_basis=purpose.legal_basis,
            notice_hash=purpose.notice_hash, sale_or_share=purpose.sale_or_share,
            direct_marketing=purpose.direct_marketing, version=current.version,
            material_since=material_since[purpose.slug],
        )
        for purpose, _ in rows
        if purpose.policy_version_id == current.id
    }
    return Catalogue(
        version=current.version,
        effective_date=current.effective_date,
        purposes=purposes,
        effective_dates={v.version: v.effective_date for v in versions},
    )


def purpose_info(slug: str, *, today: dt.date | None = None) -> PurposeInfo:
    """The purpose in effect now; raises :class:`UnknownPurpose`."""
    info = catalogue(today).purposes.get(slug)
    if info is None:
        raise UnknownPurpose(slug)
    return info


# --------------------------------------------------------------- the check


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
    updated = _aware(state.updated_at) if state is not None else None

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


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


def _customer_uuid(customer_id: uuid.UUID | str) -> uuid.UUID:
    if isinstance(customer_id, uuid.UUID):
        return customer_id
    try:
        return uuid.UUID(str(customer_id))
    except ValueError:
        raise CustomerNotFound() from None


_STATE = ConsentState.__table__.c
_CUSTOMERS = Customer.__table__.c
# Built and compiled once: the hot path only binds parameters.
_CHECK_QUERY = PreparedSelect(
    sa.select(_CUSTOMERS.status, _STATE.status.label("state_status"), _STATE.policy_version,
              _STATE.updated_at)
    .select_from(Customer.__table__)
    .outerjoin(ConsentState.__table__,
               sa.and_(_STATE.customer_id == _CUSTOMERS.id,
                       _STATE.purpose == sa.bindparam("purpose")))
    .where(_CUSTOMERS.id == sa.bindparam("customer_id"))
)


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
        row = db.session.connection().execute(_CHECK_QUERY.statement, params).one_or_none()
    else:
        # The hot path (the API's read-only check): one statement on the driver.
        row = _CHECK_QUERY.first(db.engine, params)
    if row is None:
        raise CustomerNotFound()
    customer_status, state_status, policy_version, updated_at = row
    found = _StateRow(state_status, policy_version, updated_at) if state_status else None
    return decide(info, cat, key, customer_status, found)


@dataclass(frozen=True)
class _StateRow:
    status: str
    policy_version: str
    updated_at: dt.datetime


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


# ------------------------------------------------------------ the ledger


@dataclass(frozen=True)
class Evidence:
    """How a choice was made. Client details are kept only as keyed hashes."""

    gpc: bool = False
    client_address: str | None = None
    user_agent: str | None = None
    note: str | None = None  # stored encrypted under the customer's key


def _evidence_hasher() -> BlindIndexer:
    settings = current_app.extensions["consentmgr"].settings
    return BlindIndexer(settings.blind_index_keys, "consent-evidence")


def _evidence_json(evidence: Evidence) -> dict[str, Any]:
    hasher = _evidence_hasher()
    data: dict[str, Any] = {"gpc": evidence.gpc}
    if evidence.client_address:
        data["client_hash"] = hasher.compute(evidence.client_address.strip())
    if evidence.user_agent:
        data["user_agent_hash"] = hasher.compute(evidence.user_agent.strip())
    return data


def _shown_notice(
    info: PurposeInfo, policy_version: str | None, notice_hash: str | None
) -> tuple[str, str]:
    """The version and notice hash the customer saw (default: what is in effect)."""
    if policy_version is None:
        if notice_hash is not None and notice_hash != info.notice_hash:
            raise ValidationFailed({"notice_hash": [
                "This is not the notice of the purpose in the policy in effect; "
                "send the policy_version it belongs to."]})
        return info.version, info.notice_hash
    try:
        shown = get_purpose(policy_version, info.slug)
    except PolicyNotFound:
        raise ValidationFailed({"policy_version": [
            "No published policy version with that label defines this purpose."]}) from None
    if notice_hash is not None and notice_hash != shown.notice_hash:
        raise ValidationFailed({"notice_hash": [
            "This does not match the notice of the purpose in that policy version."]})
    return policy_version, shown.notice_hash


_ALLOWED_BASIS = {
    ConsentAction.GRANTED: ("consent",),
    ConsentAction.WITHDRAWN: ("consent",),
    ConsentAction.REFUSED: ("consent",),
    ConsentAction.OBJECTED: ("legitimate-interest",),
}


def record_choice(
    customer: Customer,
    purpose_slug: str,
    action: ConsentAction,
    *,
    actor: Actor,
    channel: Channel | str,
    evidence: Evidence | None = None,
    policy_version: str | None = None,
    notice_hash: str | None = None,
    collected_at: dt.datetime | None = None,
    today: dt.date | None = None,
) -> ConsentEvent:
    """Append one consent event and update the state, with its audit entry.

    Raises :class:`UnknownPurpose`, :class:`ConsentNotApplicable` (for
    example consenting to a purpose based on a contract),
    :class:`CustomerErased`, or :class:`ValidationFailed` for a notice that
    does not match.
    """
    if customer.status == CustomerStatus.ERASED:
        raise CustomerErased()
    info = purpose_info(purpose_slug, today=today)
    if info.legal_basis not in _ALLOWED_BASIS[action]:
        raise ConsentNotApplicable(_not_applicable(action, info))
    try:
        channel = Channel(channel)
    except ValueError:
        raise ValidationFailed({"channel": ["Unknown channel: use portal, staff, api or import."]}) from None
    version, shown_hash = _shown_notice(info, policy_version, notice_hash)
    evidence = evidence or Evidence()
    status = STATUS_AFTER[action]
    entry = audit.record(
        f"consent.{action.value}", actor=actor, subject_id=customer.id,
        details={"purpose": info.slug, "status": status.value, "policy_version": version,
                 "channel": channel.value, "gpc": evidence.gpc},
    )
    event = ConsentEvent(
        id=uuid.uuid4(), customer_id=customer.id, purpose=info.slug, action=action,
        status=status, policy_version=version, notice_hash=shown_hash, channel=channel,
        actor_type=actor.type, actor_id=actor.id, occurred_at=entry.occurred_at,
        collected_at=collected_at, gpc=evidence.gpc, evidence=_evidence_json(evidence),
        audit_sequence=entry.sequence,
    )
    if evidence.note:
        event.note = evidence.note
    db.session.add(event)
    _upsert_state(customer.id, info.slug, status, version, shown_hash, event.id, entry.occurred_at)
    db.session.flush()
    return event


def _not_applicable(action: ConsentAction, info: PurposeInfo) -> str:
    if action == ConsentAction.OBJECTED:
        return (f"“{info.title}” is based on {info.legal_basis.replace('-', ' ')}, not legitimate "
                "interest: withdraw consent instead of objecting.")
    if info.legal_basis == "legitimate-interest":
        return f"“{info.title}” is based on legitimate interest: you can object to it instead."
    return (f"“{info.title}” is based on {info.legal_basis.replace('-', ' ')}, "
            "not consent: there is no consent to give or withdraw.")


def _upsert_state(customer_id: uuid.UUID, purpose: str, status: ConsentStatus, version: str,
                  notice_hash: str, event_id: uuid.UUID, at: dt.datetime) -> None:
    values = {"customer_id": customer_id, "purpose": purpose, "status": status,
              "policy_version": version, "notice_hash": notice_hash, "event_id": event_id,
              "updated_at": at}
    table = ConsentState.__table__
    dialect = db.session.get_bind(clause=table).dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=["customer_id", "purpose"],
        set_={k: statement.excluded[k] for k in values if k not in ("customer_id", "purpose")},
    )
    db.session.execute(statement)
    # The ORM may hold a stale copy of this row in the identity map.
    cached = db.session.identity_map.get(
        db.session.identity_key(ConsentState, (customer_id, purpose)))
    if cached is not None:
        db.session.expire(cached)


def grant_consent(customer: Customer, purpose_slug: str, **kwargs: Any) -> ConsentEvent:
    """Record consent given for a purpose (see :func:`record_choice`)."""
    return record_choice(customer, purpose_slug, ConsentAction.GRANTED, **kwargs)


def withdraw_consent(customer: Customer, purpose_slug: str, **kwargs: Any) -> ConsentEvent:
    """Record consent withdrawn; GDPR Art. 7(3): as easy as giving it."""
    return record_choice(customer, purpose_slug, ConsentAction.WITHDRAWN, **kwargs)


def object_to_processing(customer: Customer, purpose_slug: str, **kwargs: Any) -> ConsentEvent:
    """Record an objection to a legitimate-interest purpose (GDPR Art. 21)."""
    return record_choice(customer, purpose_slug, ConsentAction.OBJECTED, **kwargs)


def honour_gpc(
    customer: Customer, *, actor: Actor, evidence: Evidence | None = None,
    today: dt.date | None = None,
) -> list[ConsentEvent]:
    """Record a Global Privacy Control opt-out for every sale-or-share purpose, once.

    "Once" means at most one GPC event per purpose: a customer who later opts
    in explicitly, having been told of the conflict, keeps that choice.
    """
    evidence = Evidence(gpc=True, client_address=evidence.client_address if evidence else None,
                        user_agent=evidence.user_agent if evidence else None)
    targets = [p for p in catalogue(today).purposes.values()
               if p.sale_or_share and p.legal_basis == "consent"]
    if not targets:
        return []
    done = set(db.session.scalars(
        sa.select(ConsentEvent.purpose).where(
            ConsentEvent.customer_id == customer.id, ConsentEvent.gpc.is_(True),
            ConsentEvent.purpose.in_([p.slug for p in targets]))))
    states = current_states(customer)
    events = []
    for info in targets:
        if info.slug in done:
            continue
        state = states.get(info.slug)
        action = (ConsentAction.WITHDRAWN if state is not None and state.status == ConsentStatus.GIVEN
                  else ConsentAction.REFUSED)
        events.append(record_choice(customer, info.slug, action, actor=actor,
                                    channel=Channel.PORTAL, evidence=evidence, today=today))
    return events


def gpc_honoured(customer: Customer) -> bool:
    """True if a GPC opt-out has been recorded for this customer."""
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(ConsentEvent)
        .where(ConsentEvent.customer_id == customer.id, ConsentEvent.gpc.is_(True))) > 0


# ---------------------------------------------------------------- reading


def current_states(customer: Customer) -> dict[str, ConsentState]:
    """The customer's consent state per purpose slug."""
    return {s.purpose: s for s in db.session.scalars(
        sa.select(ConsentState).where(ConsentState.customer_id == customer.id))}


@dataclass(frozen=True)
class PurposeChoice:
    """One purpose as the customer sees it: what it is, where they stand, what they can do."""

    info: PurposeInfo
    decision: ConsentDecision

    @property
    def can_grant(self) -> bool:
        """A consent purpose not currently given (or given under an old notice)."""
        return self.info.legal_basis == "consent" and not self.decision.allowed

    @property
    def can_withdraw(self) -> bool:
        """A consent purpose currently given."""
        return self.info.legal_basis == "consent" and self.decision.status in (
            ConsentStatus.GIVEN, ConsentStatus.RENEWAL_REQUIRED)

    @property
    def can_object(self) -> bool:
        """A legitimate-interest purpose not yet objected to."""
        return self.info.legal_basis == "legitimate-interest" and self.decision.status != "objected"


def consent_overview(customer: Customer, *, today: dt.date | None = None) -> list[PurposeChoice]:
    """Every purpose in effect with the customer's decision, in policy order."""
    cat = catalogue(today)
    states = current_states(customer)
    return [PurposeChoice(info, decide(info, cat, customer.id, customer.status, states.get(slug)))
            for slug, info in cat.purposes.items()]


def events_for(customer: Customer) -> list[ConsentEvent]:
    """The customer's consent events, newest first."""
    return list(db.session.scalars(
        sa.select(ConsentEvent).where(ConsentEvent.customer_id == customer.id)
        .order_by(ConsentEvent.audit_sequence.desc())))


def get_event(customer: Customer, event_id: uuid.UUID | str) -> ConsentEvent:
    """One of *this customer's* events; another customer's id is simply not found."""
    try:
        key = event_id if isinstance(event_id, uuid.UUID) else uuid.UUID(str(event_id))
    except ValueError:
        raise NotFound("No consent event with that id.") from None
    event = db.session.scalar(sa.select(ConsentEvent).where(
        ConsentEvent.id == key, ConsentEvent.customer_id == customer.id))
    if event is None:
        raise NotFound("No consent event with that id.")
    return event


# ------------------------------------------------------------- change feed

FEED_ACTIONS = ("consent.granted", "consent.withdrawn", "consent.refused", "consent.objected",
                "customer.restricted", "customer.unrestricted", "customer.erased")


@dataclass(frozen=True)
class FeedItem:
    """One change downstream systems must apply. No personal data."""

    cursor: int
    type: str
    customer_id: uuid.UUID | None
    occurred_at: dt.datetime
    purpose: str | None
    status: str | None
    policy_version: str | None


def change_feed(after: int = 0, limit: int = 100) -> list[FeedItem]:
    """Changes with a cursor greater than ``after``, oldest first.

    The cursor is the audit sequence number: appends are serialised and
    committed in sequence order, so a reader polling with its last cursor
    never misses a change that commits later.
    """
    entries: Iterable[AuditEntry] = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.sequence > after,
                                    AuditEntry.action.in_(FEED_ACTIONS),
                                    AuditEntry.outcome == "success")
        .order_by(AuditEntry.sequence).limit(limit))
    return [FeedItem(cursor=e.sequence, type=e.action, customer_id=e.subject_id,
                     occurred_at=_aware(e.occurred_at), purpose=(e.details or {}).get("purpose"),
                     status=(e.details or {}).get("status"),
                     policy_version=(e.details or {}).get("policy_version"))
            for e in entries]
