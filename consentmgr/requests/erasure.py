"""Carrying out an erasure request (GDPR Art. 17), and finishing it when kept data expires.

In one unit of work: the confirmation mail is composed first (the address
is still readable), then the customer's traces outside the record go (the
API clients' external refs, stored idempotent answers naming the customer,
portal sign-in tokens, the encrypted notes of their requests and holds),
and the record is crypto-shredded -- or, when the policy says some history
must be kept (:mod:`consentmgr.requests.retention`), erased except for that
history and restricted until its period ends.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from consentmgr.actors import Actor
from consentmgr.apiclients.models import ExternalRef
from consentmgr.apiclients.traces import forget_customer
from consentmgr.audit import actions
from consentmgr.customers.models import Customer, CustomerStatus
from consentmgr.customers.services import (
    CustomerErased,
    erase_customer,
    erase_customer_except,
    get_customer,
)
from consentmgr.extensions import db
from consentmgr.i18n import _, current_language, long_date
from consentmgr.policies.document import PolicyDocument
from consentmgr.policies.services import PolicyNotFound, current_version, document_of
from consentmgr.requests import notices
from consentmgr.requests.errors import WrongRequestState
from consentmgr.requests.holds import active_holds
from consentmgr.requests.lifecycle import close, ensure_identity_known, record
from consentmgr.requests.models import (
    DataSubjectRequest,
    LegalHold,
    RefusalReason,
    RequestStatus,
    RequestType,
)
from consentmgr.requests.retention import RetentionPlan, retention_plan
from consentmgr.sql import utcnow

#: Tells the customer an erasure is done: (customer, request, lines on what is kept) -> sent.
ErasureNotice = Callable[[Customer, DataSubjectRequest, list[str]], bool]


def complete_erasure(req: DataSubjectRequest, *, actor: Actor,
                     now: dt.datetime | None = None,
                     notice: ErasureNotice | None = None) -> DataSubjectRequest:
    """Erase the customer of an erasure request; returns the request, completed or refused.

    An active legal hold refuses the request with the hold's exception
    (Art. 17(3)(b) or (e)) and erases nothing. Otherwise the outcome is
    ``erased``, or ``partly-erased`` when history had to be kept.
    ``notice``: the mail that says so (default: the request's completion;
    a closure for inactivity passes its own, :mod:`consentmgr.requests.inactivity`).
    """
    if req.type != RequestType.ERASURE:
        raise WrongRequestState("This is not an erasure request.")
    ensure_identity_known(req)
    now = now or utcnow()
    customer = get_customer(req.customer_id)
    if customer.status == CustomerStatus.ERASED:
        raise CustomerErased()
    holds = active_holds(customer)
    if holds:
        close(req, RequestStatus.REFUSED, actor=actor, now=now, outcome="refused")
        req.refusal_reason = RefusalReason(holds[0].exception)
        record(req, actions.REQUEST_REJECTED, actor=actor)
        notices.refusal(customer, req)
        return req

    plan = retention_plan(customer, now=now)
    close(req, RequestStatus.COMPLETED, actor=actor, now=now,
          outcome="partly-erased" if plan.keeps_anything else "erased")
    # Composed now, while the address can still be read, in the customer's language.
    with notices.writing_to(customer):
        kept = _kept_lines(plan)
    (notice or notices.completion)(customer, req, kept)
    _forget_traces(customer)
    if plan.keeps_anything:
        erase_customer_except(customer, plan.kept_ids, actor=actor,
                              retained_until=plan.retained_until)
    else:
        erase_customer(customer, actor=actor)
    record(req, actions.REQUEST_COMPLETED, actor=actor)
    return req


def _kept_lines(plan: RetentionPlan) -> list[str]:
    if not plan.keeps_anything:
        return []
    lines = ["", _("What we keep, because the law requires it (GDPR Art. 17(3)(b)), and for how "
                   "long:")]
    shown = _policy_in_language()
    for category in plan.categories:
        # The category as the policy's text in the language written calls it, if there is one.
        worded = shown.data_category(category.slug) if shown is not None else None
        title, retention = (worded.title, worded.retention) if worded is not None \
            else (category.title, category.retention)
        lines.append(f"- {title}: {' '.join(retention.split())}")
    lines += [_("We use it for nothing else, and erase it when that period ends (at the latest "
                "on %(day)s).", day=long_date(plan.retained_until))]
    return lines


def _policy_in_language() -> PolicyDocument | None:
    try:
        document = document_of(current_version(), current_language())
    except PolicyNotFound:
        return None
    return document if document.language == current_language() else None


_ERASED = "consentmgr.erased"  # Session.info flag: this unit of work erased someone


def _forget_traces(customer: Customer) -> None:
    """What links other systems and tokens to the customer, outside the record itself."""
    session = db.session
    session.flush()  # pending changes first: the rows below are expired afterwards
    if session.get_bind(clause=ExternalRef.__table__).dialect.name == "sqlite":
        # Deleted rows are overwritten with zeros, not left in the free space of their page.
        session.execute(sa.text("PRAGMA secure_delete = ON"))
    session.info[_ERASED] = True
    # The API clients' references to the customer, and their stored answers about them.
    forget_customer(customer.id)
    # Notes are encrypted under the customer's key: clear them before it goes.
    session.execute(sa.update(DataSubjectRequest)
                    .where(DataSubjectRequest.customer_id == customer.id)
                    .values(_notes=None, _explanation=None, _extension_reason=None,
                            _identity_check=None),
                    execution_options={"synchronize_session": False})
    session.execute(sa.update(LegalHold).where(LegalHold.customer_id == customer.id)
                    .values(_note=None), execution_options={"synchronize_session": False})
    for obj in list(session.identity_map.values()):
        if isinstance(obj, (DataSubjectRequest, LegalHold)) and obj.customer_id == customer.id:
            session.expire(obj)


def purge_expired_retention(*, actor: Actor, now: dt.datetime | None = None,
                            limit: int | None = None) -> int:
    """Finish partial erasures whose retention period has ended; returns records erased.

    A record with an active legal hold is left alone until the hold is lifted.
    ``limit``: at most that many (a batch of ``flask retention purge``).
    """
    now = now or utcnow()
    held = sa.exists().where(LegalHold.customer_id == Customer.id, LegalHold.lifted_at.is_(None))
    due = list(db.session.scalars(
        sa.select(Customer).where(Customer.retained_until.is_not(None),
                                  Customer.retained_until <= now,
                                  Customer.status != CustomerStatus.ERASED, ~held)
        .order_by(Customer.retained_until, Customer.id).limit(limit)))
    erased = 0
    for customer in due:
        _forget_traces(customer)
        erase_customer(customer, actor=actor)
        erased += 1
    return erased


@event.listens_for(Session, "after_commit")
def _checkpoint_after_erasure(session: Session) -> None:
    """SQLite: once an erasure commits, fold the write-ahead log into the database and empty it.

    The log keeps earlier images of every page written since the last
    checkpoint -- including the customer's external references as they were
    before the erasure -- until it is reset. A ``TRUNCATE`` checkpoint
    leaves no such copy behind. (PostgreSQL: see the README on ``VACUUM``.)
    """
    if session.in_nested_transaction() or not session.info.pop(_ERASED, False):
        return
    bind = session.get_bind(clause=ExternalRef.__table__)
    if bind.dialect.name != "sqlite":
        return
    engine = getattr(bind, "engine", bind)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


@event.listens_for(Session, "after_soft_rollback")
def _forget_erasure_flag(session: Session, previous_transaction) -> None:
    if previous_transaction.parent is None:
        session.info.pop(_ERASED, None)
