"""The consent ledger: record each choice as an event, keep the state, read them back.

Every change appends a :class:`ConsentEvent`, upserts the customer's
:class:`ConsentState` for that purpose and writes an audit entry, in the
caller's transaction. The state's upsert comes first and takes its row
lock, so for one customer and purpose the audit entries (and so the change
feed) follow the order in which the choices took effect. On PostgreSQL the
three writes are one statement; on SQLite the audit entry claims its place
in the chain at once (:mod:`consentmgr.audit.record`).
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from consentmgr.actors import Actor
from consentmgr.audit import actions
from consentmgr.audit import services as audit
from consentmgr.consent.catalogue import PurposeInfo, catalogue, purpose_info
from consentmgr.consent.check_cache import note_changed
from consentmgr.consent.expiry import expires_at
from consentmgr.consent.models import (
    STATUS_AFTER,
    Channel,
    ConsentAction,
    ConsentEvent,
    ConsentState,
    ConsentStatus,
)
from consentmgr.customers.models import Customer, CustomerStatus
from consentmgr.customers.services import CustomerErased, CustomerNotFound
from consentmgr.errors import Conflict, DomainError, NotFound, ValidationFailed
from consentmgr.extensions import db
from consentmgr.i18n import DEFAULT_LANGUAGE, LANGUAGES
from consentmgr.policies.services import PolicyNotFound, get_notice
from consentmgr.prepared import PreparedSelect
from consentmgr.runtime import of_session
from consentmgr.sql import (
    PreparedUpsert,
    as_uuid,
    attach_stored,
    column_params,
    insert_stored,
    utcnow,
)


class ConsentNotApplicable(Conflict):
    """The action does not fit the purpose's legal basis."""


@dataclass(frozen=True)
class Evidence:
    """How a choice was made. Client details are kept only as keyed hashes."""

    gpc: bool = False
    client_address: str | None = None
    user_agent: str | None = None
    note: str | None = None  # stored encrypted under the customer's key


#: The audit action each ledger action is recorded as.
AUDIT_ACTIONS = {
    ConsentAction.GRANTED: actions.CONSENT_GRANTED,
    ConsentAction.WITHDRAWN: actions.CONSENT_WITHDRAWN,
    ConsentAction.REFUSED: actions.CONSENT_REFUSED,
    ConsentAction.OBJECTED: actions.CONSENT_OBJECTED,
}

_ALLOWED_BASIS = {
    ConsentAction.GRANTED: ("consent",),
    ConsentAction.WITHDRAWN: ("consent",),
    ConsentAction.REFUSED: ("consent",),
    ConsentAction.OBJECTED: ("legitimate-interest",),
}


@dataclass(frozen=True)
class ChoiceSubject:
    """What recording a choice needs of a customer: the id and the status, not the whole row.

    ``status`` None: not looked up yet; the write's own statement requires the
    customer to exist and not be erased (:func:`subject_for_write`).
    """

    id: uuid.UUID
    status: CustomerStatus | None


# A Core statement on the table, compiled once and run on the session's
# connection: no ORM entity to load or track, no execution context to build.
_CUSTOMERS = Customer.__table__
_STATUS_BY_ID = PreparedSelect(
    sa.select(_CUSTOMERS.c.status).where(_CUSTOMERS.c.id == sa.bindparam("customer_id")))


def choice_subject(customer_id: uuid.UUID | str) -> ChoiceSubject:
    """The customer a choice is recorded for, without loading their (encrypted) row.

    Raises :class:`CustomerNotFound` for an unknown or malformed id. For
    callers that have no :class:`Customer` loaded (the API's write).
    """
    key = as_uuid(customer_id)
    row = None if key is None else _STATUS_BY_ID.first_in(db.session, {"customer_id": key})
    status = None if row is None else row[0]
    if status is None:
        raise CustomerNotFound()
    return ChoiceSubject(key, status)


def subject_for_write(customer_id: uuid.UUID | str) -> ChoiceSubject:
    """The customer a choice is about to be recorded for (the API's write).

    On PostgreSQL the write is one statement, which itself requires the
    customer to exist and not be erased: the status is not read first (one
    round trip less), and :func:`record_choice` raises the same errors, in
    the same order, as after :func:`choice_subject`. Elsewhere it is
    :func:`choice_subject`. Raises :class:`CustomerNotFound` for a malformed id.
    """
    if audit.sequenced_inline(db.session):
        return choice_subject(customer_id)
    key = as_uuid(customer_id)
    if key is None:
        raise CustomerNotFound()
    return ChoiceSubject(key, None)


def _refuse_unwritable(customer: Customer | ChoiceSubject) -> None:
    """Raise what :func:`choice_subject` would have for a customer not checked before the write."""
    if customer.status is None:
        status = choice_subject(customer.id).status  # CustomerNotFound
        if status == CustomerStatus.ERASED:
            raise CustomerErased()


def _evidence_json(evidence: Evidence) -> dict[str, Any]:
    # Its own blind-index label: these hashes cannot be matched with any other index.
    hasher = of_session(db.session).indexer("consent-evidence")
    data: dict[str, Any] = {"gpc": evidence.gpc}
    if evidence.client_address:
        data["client_hash"] = hasher.compute(evidence.client_address.strip())
    if evidence.user_agent:
        data["user_agent_hash"] = hasher.compute(evidence.user_agent.strip())
    return data


def _shown_notice(
    info: PurposeInfo, policy_version: str | None, notice_hash: str | None, language: str
) -> tuple[str, str, str]:
    """The version, notice hash and language of the notice the customer saw.

    By default the policy in effect. A version without a text in ``language``
    was shown in English, and is recorded so.
    """
    if policy_version is None:
        shown_language, shown_hash = info.notice_in(language)
        if notice_hash is not None and notice_hash != shown_hash:
            raise ValidationFailed({"notice_hash": [
                "This is not the notice of the purpose in the policy in effect; "
                "send the policy_version and language it belongs to."]})
        return info.version, shown_hash, shown_language
    try:
        shown = get_notice(policy_version, info.slug, language)
    except PolicyNotFound:
        raise ValidationFailed({"policy_version": [
            "No published policy version with that label defines this purpose."]}) from None
    if notice_hash is not None and notice_hash != shown.notice_hash:
        raise ValidationFailed({"notice_hash": [
            "This does not match the notice of the purpose in that policy version "
            "and language."]})
    return policy_version, shown.notice_hash, shown.language


def record_choice(
    customer: Customer | ChoiceSubject,
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
    language: str | None = None,
) -> ConsentEvent:
    """Append one consent event and update the state, with its audit entry.

    ``language`` is the language the notice was shown in (default English);
    the event records it and that language's notice hash (GDPR Art. 7(1)).

    Raises :class:`UnknownPurpose`, :class:`ConsentNotApplicable` (for
    example consenting to a purpose based on a contract),
    :class:`CustomerErased`, or :class:`ValidationFailed` for a notice that
    does not match.
    """
    if customer.status == CustomerStatus.ERASED:
        raise CustomerErased()
    try:
        info = purpose_info(purpose_slug, today=today)
        if info.legal_basis not in _ALLOWED_BASIS[action]:
            raise ConsentNotApplicable(_not_applicable(action, info))
        try:
            channel = Channel(channel)
        except ValueError:
            raise ValidationFailed({"channel": [
                "Unknown channel: use portal, staff, api or import."]}) from None
        if language is not None and language not in LANGUAGES:
            raise ValidationFailed({"language": [
                f"Unknown language: use one of {', '.join(LANGUAGES)}."]})
        version, shown_hash, shown_language = _shown_notice(
            info, policy_version, notice_hash, language or DEFAULT_LANGUAGE)
    except DomainError:
        _refuse_unwritable(customer)  # an unknown or erased customer is the first error
        raise
    evidence = evidence or Evidence()
    status = STATUS_AFTER[action]
    event_id, now = uuid.uuid4(), utcnow()
    # Every choice starts a new term: its expiry, and no reminder sent yet.
    state = {"customer_id": customer.id, "purpose": info.slug, "status": status,
             "policy_version": version, "notice_hash": shown_hash, "event_id": event_id,
             "updated_at": now, "reminded_at": None,
             "expires_at": expires_at(info, status, granted_at=collected_at or now, now=now)}
    entry = {"subject_id": customer.id,
             "details": {"purpose": info.slug, "status": status.value, "policy_version": version,
                         "channel": channel.value, "gpc": evidence.gpc}}
    event = ConsentEvent(
        id=event_id, customer_id=customer.id, purpose=info.slug, action=action,
        status=status, policy_version=version, notice_hash=shown_hash,
        language=shown_language, channel=channel,
        actor_type=actor.type, actor_id=actor.id, occurred_at=now,
        collected_at=collected_at, gpc=evidence.gpc, evidence=_evidence_json(evidence),
    )
    if evidence.note:
        event.note = evidence.note
    # The state first: its upsert takes the row lock of this customer and
    # purpose, so a concurrent choice for the same pair writes its audit
    # entry only after this one commits. Insertion ids (and so sequence
    # numbers) then follow the order in which the choices took effect.
    if audit.sequenced_inline(db.session):
        _upsert_state(state)
        recorded = audit.record(AUDIT_ACTIONS[action], actor=actor, **entry)
        event.audit_entry_id, event.feed_cursor = recorded.id, recorded.sequence
        insert_stored(db.session, event)
    else:
        _write_in_one_statement(customer, state, event, audit.pending_entry_params(
            AUDIT_ACTIONS[action], actor=actor, **entry))
    note_changed(db.session, customer.id)  # this process answers its own write at once
    return event


def _not_applicable(action: ConsentAction, info: PurposeInfo) -> str:
    if action == ConsentAction.OBJECTED:
        return (f"“{info.title}” is based on {info.legal_basis.replace('-', ' ')}, not legitimate "
                "interest: withdraw consent instead of objecting.")
    if info.legal_basis == "legitimate-interest":
        return f"“{info.title}” is based on legitimate interest: you can object to it instead."
    return (f"“{info.title}” is based on {info.legal_basis.replace('-', ' ')}, "
            "not consent: there is no consent to give or withdraw.")


#: The state upsert, built once per dialect (the write's hot path; see benchmarks/write_cost.py).
_UPSERT_STATE = PreparedUpsert(
    ConsentState.__table__,
    ["customer_id", "purpose", "status", "policy_version", "notice_hash", "event_id", "updated_at",
     "expires_at", "reminded_at"],
    key=["customer_id", "purpose"])


def _upsert_state(state: dict[str, Any]) -> None:
    _UPSERT_STATE(db.session, state)
    _forget_cached_state(state)


def _forget_cached_state(state: dict[str, Any]) -> None:
    # The ORM may hold a stale copy of this row in the identity map.
    cached = db.session.identity_map.get(
        db.session.identity_key(ConsentState, (state["customer_id"], state["purpose"])))
    if cached is not None:
        db.session.expire(cached)


def _guarded_upsert() -> sa.Insert:
    """The state upsert, made only for a customer who exists and is not erased (else no row)."""
    table = ConsentState.__table__
    writable = sa.exists().where(
        _CUSTOMERS.c.id == sa.bindparam("customer_id", type_=table.c.customer_id.type),
        _CUSTOMERS.c.status != CustomerStatus.ERASED)
    values = sa.select(*(sa.bindparam(name, type_=table.c[name].type)
                         for name in _UPSERT_STATE.columns)).where(writable)
    insert = postgresql.insert(table).from_select(_UPSERT_STATE.columns, values)
    return insert.on_conflict_do_update(
        index_elements=_UPSERT_STATE.key,
        set_={name: insert.excluded[name] for name in _UPSERT_STATE.update})


@functools.cache
def _one_statement() -> PreparedSelect:
    """State upsert, audit entry and event as one PostgreSQL statement (built once).

    A write is CPU-bound in the app process, and each statement costs a round
    trip plus SQLAlchemy's and psycopg's own work: one statement instead of
    three (benchmarks/write_cost.py). The audit entry selects from the
    upsert's row and the event from the entry's id, so PostgreSQL runs them
    in that order: the row lock is held before the entry's insertion id is
    drawn, as in the three-statement path.
    """
    locked = _guarded_upsert().returning(sa.literal_column("1").label("locked")).cte("state")
    entry = audit.insert_pending_after(locked).cte("entry")
    events = ConsentEvent.__table__
    names = [c.name for c in events.columns if c.name != "audit_entry_id"]
    values = sa.select(*(sa.bindparam(_EVENT + name, type_=events.c[name].type)
                         for name in names), entry.c.id).select_from(entry)
    return PreparedSelect(sa.insert(events).from_select([*names, "audit_entry_id"], values)
                          .returning(events.c.audit_entry_id))


_EVENT = "event_"


def _write_in_one_statement(customer: Customer | ChoiceSubject, state: dict[str, Any],
                            event: ConsentEvent, entry: dict[str, Any]) -> None:
    params = {**state, **entry, **column_params(event, _EVENT)}
    written = _one_statement().first_in(db.session, params)
    if written is None:  # the customer is unknown or erased: nothing was written
        _refuse_unwritable(customer)
        raise Conflict("The customer changed while the choice was recorded; send it again.")
    event.audit_entry_id = written[0]
    _forget_cached_state(state)
    attach_stored(db.session, event)


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


def current_states(customer: Customer) -> dict[str, ConsentState]:
    """The customer's consent state per purpose slug."""
    return {s.purpose: s for s in db.session.scalars(
        sa.select(ConsentState).where(ConsentState.customer_id == customer.id))}


def events_for(customer: Customer) -> list[ConsentEvent]:
    """The customer's consent events, newest first."""
    return list(db.session.scalars(
        sa.select(ConsentEvent).where(ConsentEvent.customer_id == customer.id)
        .order_by(ConsentEvent.audit_entry_id.desc())))


def get_event(customer: Customer, event_id: uuid.UUID | str) -> ConsentEvent:
    """One of *this customer's* events; another customer's id is simply not found."""
    key = as_uuid(event_id)
    event = None if key is None else db.session.scalar(sa.select(ConsentEvent).where(
        ConsentEvent.id == key, ConsentEvent.customer_id == customer.id))
    if event is None:
        raise NotFound("No consent event with that id.")
    return event
