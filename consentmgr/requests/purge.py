"""Retention enforced: what the policy in effect says must go, deleted in committed batches.

GDPR Art. 5(1)(e), storage limitation: personal data is kept no longer than
the purposes need, and the policy tells customers for how long
(Art. 13(2)(a)). :func:`retention_plan` reads those periods from the
version in effect; the ``purge_*_batch`` functions each delete one batch
and write one audit entry for it (counts and the category, never a
customer's data), and flush. The boundary (``flask retention purge``, the
worker's daily ``requests.purge-retention``) commits each batch, so an interrupted
run keeps what it did and a second run carries on: what is gone is no
longer selected.

What goes, by category:

* **History entries**, by data category: an entry is deleted once its
  category's ``retention_days``, counted from ``occurred_at``, have passed.
  A category the policy does not declare has no period: it is reported and
  skipped, never guessed. The account categories
  (:data:`~consentmgr.requests.retention.ACCOUNT_CATEGORIES`) count from the
  closing of the account and go with it.
* **Consent evidence notes** (:attr:`ConsentEvent.note`), under the data
  category :data:`CONSENT_EVIDENCE` when the policy declares it: the note of
  an event older than the period is cleared, unless the customer's current
  consent still rests on that event (Art. 7(1): the controller must be able
  to demonstrate the consent it relies on). The event itself stays: the
  ledger is append-only, and holds no personal data but the note.
* **Closed accounts**: records erased except for history kept for a legal
  obligation (:mod:`consentmgr.requests.retention`) are erased for good
  once ``retained_until`` has passed.
* **Inactive accounts**, when the policy sets ``inactive_after_days``: the
  customer of an active account quiet for all but the last 30 days of the
  period is warned; once the period has passed and the warning is 30 days
  old, the account is closed through an erasure request of the
  controller's (channel ``inactivity``) and the customer told why
  (:mod:`consentmgr.requests.inactivity` defines activity and the rules);
  what the law requires is kept, and goes later with the closed accounts.

A customer under an active legal hold (:mod:`consentmgr.requests.holds`)
loses nothing: their items are skipped and counted.

Audit justifications are not purged: each is part of its entry's hash, so
clearing one would break the chain (``flask audit verify``) from there on,
and on PostgreSQL the trail refuses updates.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from consentmgr.actors import Actor
from consentmgr.audit import actions
from consentmgr.audit import services as audit
from consentmgr.consent.models import ConsentEvent, ConsentState
from consentmgr.customers.models import Customer, CustomerStatus, HistoryEntry
from consentmgr.errors import NotFound
from consentmgr.policies.document import PolicyDocument
from consentmgr.policies.services import PolicyNotFound, current_version, document_of
from consentmgr.requests import inactivity
from consentmgr.requests.erasure import purge_expired_retention
from consentmgr.requests.models import LegalHold
from consentmgr.requests.retention import ACCOUNT_CATEGORIES

#: The data category whose period applies to the free-text notes of consent events.
CONSENT_EVIDENCE = "consent-evidence"
#: Steps that are not a history category, as named in reports and audit entries.
CONSENT_NOTES = "consent-evidence-notes"
CLOSED_ACCOUNTS = "closed-accounts"
INACTIVE_ACCOUNTS = "inactive-accounts"
INACTIVE_WARNINGS = "inactive-warnings"
DEFAULT_BATCH_SIZE = 1000


class NoPolicyInEffect(NotFound):
    """No published policy is in effect: there is no period to enforce, so nothing is purged."""

    def __init__(self) -> None:
        super().__init__("No published privacy-policy version is in effect: "
                         "publish one (flask policies publish) before purging.")


@dataclass(frozen=True)
class Period:
    """One thing to purge: its name, the category its period comes from, and the cutoff.

    ``retention_days`` is None when the policy gives no period (``skipped``
    says why): such a step is reported and nothing of it is touched.
    """

    name: str
    category: str
    retention_days: int | None
    cutoff: dt.datetime | None
    skipped: str | None = None


@dataclass(frozen=True)
class RetentionPlan:
    """What the policy in effect says, at ``now``: one :class:`Period` per history category."""

    policy_version: str
    now: dt.datetime
    history: tuple[Period, ...]
    consent_notes: Period
    #: The policy's ``inactive_after_days``, counted back from ``now`` (skipped when unset).
    inactive_accounts: Period | None = None
    #: The same period, less the warning's notice: who is told their account closes soon.
    inactive_warnings: Period | None = None


def policy_in_effect(session: Session, now: dt.datetime) -> tuple[str, PolicyDocument]:
    """The label and document of the version in effect at ``now``; :class:`NoPolicyInEffect`."""
    try:
        version = current_version(now.date())
    except PolicyNotFound:
        raise NoPolicyInEffect() from None
    return version.version, document_of(version)


def retention_plan(session: Session, *, now: dt.datetime) -> RetentionPlan:
    """Read the periods of the policy in effect at ``now`` for every category held.

    The history categories are those of the policy plus any found in the
    database that it does not declare (reported as having no period).
    """
    label, document = policy_in_effect(session, now)
    held = set(session.scalars(sa.select(HistoryEntry.data_category).distinct()))
    declared = {category.slug: category for category in document.data_categories}
    history = []
    for slug in sorted(held | (set(declared) - ACCOUNT_CATEGORIES)):
        category = declared.get(slug)
        if slug in ACCOUNT_CATEGORIES:
            history.append(Period(f"history:{slug}", slug, None, None,
                                  "account data: kept while the account is open, erased with it"))
        elif category is None:
            history.append(Period(f"history:{slug}", slug, None, None,
                                  f"no retention period in policy {label}"))
        else:
            history.append(_period(f"history:{slug}", slug, category.retention_days, now))
    evidence = declared.get(CONSENT_EVIDENCE)
    notes = (_period(CONSENT_NOTES, CONSENT_EVIDENCE, evidence.retention_days, now)
             if evidence is not None else
             Period(CONSENT_NOTES, CONSENT_EVIDENCE, None, None,
                    f"no retention period in policy {label} (data category '{CONSENT_EVIDENCE}')"))
    days = document.inactive_after_days
    if days is None:
        unset = f"policy {label} sets no inactive_after_days"
        inactive = Period(INACTIVE_ACCOUNTS, INACTIVE_ACCOUNTS, None, None, unset)
        warnings = Period(INACTIVE_WARNINGS, INACTIVE_ACCOUNTS, None, None, unset)
    else:
        inactive = _period(INACTIVE_ACCOUNTS, INACTIVE_ACCOUNTS, days, now)
        warnings = Period(INACTIVE_WARNINGS, INACTIVE_ACCOUNTS, days,
                          now - dt.timedelta(days=days - inactivity.WARNING_DAYS))
    return RetentionPlan(label, now, tuple(history), notes, inactive, warnings)


def _period(name: str, slug: str, days: int, now: dt.datetime) -> Period:
    return Period(name, slug, days, now - dt.timedelta(days=days))


def _held(customer_id: sa.ColumnElement) -> sa.ColumnElement[bool]:
    return sa.exists().where(LegalHold.customer_id == customer_id, LegalHold.lifted_at.is_(None))


# --- history ------------------------------------------------------------------------


def _history_due(period: Period) -> sa.ColumnElement[bool]:
    return sa.and_(HistoryEntry.data_category == period.category,
                   HistoryEntry.occurred_at <= period.cutoff)


def count_history(session: Session, period: Period) -> tuple[int, int]:
    """How many entries of the category are past their period: (to delete, held by a hold)."""
    if period.cutoff is None:
        return 0, 0
    rows = session.execute(
        sa.select(_held(HistoryEntry.customer_id).label("held"), sa.func.count())
        .where(_history_due(period)).group_by(sa.literal_column("held"))).all()
    counts = {bool(held): int(count) for held, count in rows}
    return counts.get(False, 0), counts.get(True, 0)


def purge_history_batch(session: Session, period: Period, *, actor: Actor, policy_version: str,
                        batch_size: int = DEFAULT_BATCH_SIZE) -> int:
    """Delete up to ``batch_size`` entries past the category's period; returns how many.

    Entries of customers under a legal hold are never selected. One audit
    entry for the batch (category, period, count); flushes. 0: nothing left.
    """
    if period.cutoff is None:
        return 0
    _secure_delete(session)
    batch = (sa.select(HistoryEntry.id)
             .where(_history_due(period), ~_held(HistoryEntry.customer_id))
             .limit(batch_size).scalar_subquery())
    result = session.execute(sa.delete(HistoryEntry).where(HistoryEntry.id.in_(batch)),
                             execution_options={"synchronize_session": False})
    deleted = int(result.rowcount or 0)
    if deleted:
        _audit(session, period, deleted, actor=actor, policy_version=policy_version)
    return deleted


# --- consent evidence notes --------------------------------------------------------------


def _notes_due(period: Period) -> sa.ColumnElement[bool]:
    # The event the current consent state rests on keeps its evidence (Art. 7(1)).
    relied_on = sa.exists().where(ConsentState.event_id == ConsentEvent.__table__.c.id)
    table = ConsentEvent.__table__
    return sa.and_(table.c.note.is_not(None), table.c.occurred_at <= period.cutoff, ~relied_on)


def count_consent_notes(session: Session, period: Period) -> tuple[int, int]:
    """How many evidence notes are past their period: (to clear, held by a hold)."""
    if period.cutoff is None:
        return 0, 0
    rows = session.execute(
        sa.select(_held(ConsentEvent.customer_id).label("held"), sa.func.count())
        .select_from(ConsentEvent).where(_notes_due(period))
        .group_by(sa.literal_column("held"))).all()
    counts = {bool(held): int(count) for held, count in rows}
    return counts.get(False, 0), counts.get(True, 0)


def purge_consent_notes_batch(session: Session, period: Period, *, actor: Actor,
                              policy_version: str, batch_size: int = DEFAULT_BATCH_SIZE) -> int:
    """Clear up to ``batch_size`` evidence notes past their period; returns how many.

    Only the note goes: the event (purpose, action, policy version, notice
    hash, channel, when) is the proof of consent and holds no personal data.
    On PostgreSQL the ledger's append-only trigger allows exactly this
    update (migration 0017).
    """
    if period.cutoff is None:
        return 0
    table = ConsentEvent.__table__
    batch = (sa.select(table.c.id).where(_notes_due(period), ~_held(table.c.customer_id))
             .limit(batch_size).scalar_subquery())
    result = session.execute(sa.update(table).where(table.c.id.in_(batch)).values(note=None),
                             execution_options={"synchronize_session": False})
    cleared = int(result.rowcount or 0)
    if cleared:
        _audit(session, period, cleared, actor=actor, policy_version=policy_version)
    return cleared


# --- closed accounts ----------------------------------------------------------------------


def count_closed_accounts(session: Session, *, now: dt.datetime) -> tuple[int, int]:
    """Records kept for a legal obligation whose period has ended: (to erase, held by a hold)."""
    rows = session.execute(
        sa.select(_held(Customer.id).label("held"), sa.func.count())
        .where(Customer.retained_until.is_not(None), Customer.retained_until <= now,
               Customer.status != CustomerStatus.ERASED)
        .group_by(sa.literal_column("held"))).all()
    counts = {bool(held): int(count) for held, count in rows}
    return counts.get(False, 0), counts.get(True, 0)


def purge_closed_accounts_batch(session: Session, *, actor: Actor, now: dt.datetime,
                                policy_version: str,
                                batch_size: int = DEFAULT_BATCH_SIZE) -> int:
    """Erase up to ``batch_size`` records whose kept history has outlived its period.

    Each erasure writes its own ``customer.erased`` entry (as an erasure
    request does); the batch adds one entry with the count.
    """
    erased = purge_expired_retention(actor=actor, now=now, limit=batch_size)
    if erased:
        audit.record(actions.RETENTION_PURGED, actor=actor, details={
            "category": CLOSED_ACCOUNTS, "policy_version": policy_version, "purged": erased})
        session.flush()
    return erased


# --- inactive accounts ---------------------------------------------------------------------


def count_inactive_warnings(session: Session, period: Period, *,
                            now: dt.datetime) -> tuple[int, int]:
    """Customers to warn that their account closes soon: (to warn, 0 -- holds count at closing)."""
    if period.cutoff is None:
        return 0, 0
    return inactivity.count_to_warn(now, period.retention_days), 0


def warn_inactive_accounts_batch(session: Session, period: Period, *, actor: Actor,
                                 now: dt.datetime, policy_version: str,
                                 batch_size: int = DEFAULT_BATCH_SIZE) -> int:
    """Warn up to ``batch_size`` customers that their quiet account closes soon; returns how many.

    Each warning is audited on its own (the customer's id, the closing
    date); the batch adds one entry with the count. Held accounts are never selected.
    """
    if period.cutoff is None:
        return 0
    due = inactivity.customers_to_warn(now, period.retention_days, limit=batch_size)
    for customer in due:
        inactivity.warn_inactive_account(customer, actor=actor, now=now,
                                         days=period.retention_days)
    if due:
        _audit(session, period, len(due), actor=actor, policy_version=policy_version)
    return len(due)


def count_inactive_accounts(session: Session, period: Period, *,
                            now: dt.datetime) -> tuple[int, int]:
    """Accounts inactive for the period and warned in time: (to close, held by a legal hold)."""
    if period.cutoff is None:
        return 0, 0
    return inactivity.count_to_close(now, period.retention_days)


def close_inactive_accounts_batch(session: Session, period: Period, *, actor: Actor,
                                  now: dt.datetime, policy_version: str,
                                  batch_size: int = DEFAULT_BATCH_SIZE) -> int:
    """Close up to ``batch_size`` accounts inactive for the policy's period; returns how many.

    Each goes through its own erasure request (audited as requests are);
    the batch adds one entry with the count. Held accounts are never selected.
    """
    if period.cutoff is None:
        return 0
    due = inactivity.customers_to_close(now, period.retention_days, limit=batch_size)
    for customer in due:
        inactivity.close_inactive_account(customer, actor=actor, now=now,
                                          inactive_days=period.retention_days)
    if due:
        _audit(session, period, len(due), actor=actor, policy_version=policy_version)
    return len(due)


def record_purged(session: Session, category: str, count: int, *, actor: Actor,
                  policy_version: str | None) -> None:
    """Audit a purge done by another area's rule (expired tokens, idempotency records, ...)."""
    if count:
        audit.record(actions.RETENTION_PURGED, actor=actor, details={
            "category": category, "policy_version": policy_version, "purged": count})
        session.flush()


def _audit(session: Session, period: Period, count: int, *, actor: Actor,
           policy_version: str) -> None:
    # Counts, a category and a date: nothing that names or describes a person.
    audit.record(actions.RETENTION_PURGED, actor=actor, details={
        "category": period.name, "policy_version": policy_version,
        "retention_days": period.retention_days,
        "cutoff": period.cutoff.isoformat(timespec="seconds"), "purged": count})
    session.flush()


def _secure_delete(session: Session) -> None:
    if session.get_bind(clause=HistoryEntry.__table__).dialect.name == "sqlite":
        # Deleted rows are overwritten with zeros, not left in the free space of their page.
        session.execute(sa.text("PRAGMA secure_delete = ON"))
