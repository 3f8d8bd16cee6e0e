"""Accounts closed for inactivity: the controller's own erasure, when the policy sets a period.

GDPR Art. 5(1)(e), storage limitation: an account nobody uses serves no
purpose. A policy may say so in its front matter (``inactive_after_days``,
announced to customers on ``/privacy``, Art. 13(2)(a)); the retention purge
(:mod:`consentmgr.requests.purge`) then closes every account inactive for
longer, through the request machinery: an erasure request on the channel
``inactivity`` (the controller's, not the customer's), carried out at once
by :func:`~consentmgr.requests.erasure.complete_erasure` -- so what the law
requires us to keep (:mod:`consentmgr.requests.retention`) is kept, the
record restricted, and erased for good when that period ends (the purge's
closed-accounts step).

The customer is warned first: once the account has been quiet for all but
the last :data:`WARNING_DAYS` days of the period, a mail says it will be
closed unless they sign in (an audit entry records the warning). An
account is closed only once the whole period has passed *and* a warning
sent after the last activity is at least :data:`WARNING_DAYS` days old --
so a period shortened by a new policy, or switched on for the first time,
still gives everyone a warning and a month to answer it. The closure then
sends one mail saying the account was closed and why, instead of "we have
received your request" and "your request has been answered".

**Last activity** of a customer is the latest of:

* the record's ``created_at`` (not ``updated_at``: a key rotation or a
  reindex rewrites every record, and would make everyone look active);
* the time of an audit entry about the customer (``subject_id``, indexed)
  that is either by the customer themselves (actor type ``customer``: a
  portal sign-in, a page seen, a detail changed, a download, a choice) or
  one of :data:`ACTIVITY_ACTIONS`, whoever recorded it: a history entry
  added (a purchase, a support contact, a visit pushed by the shop or the
  CRM), a consent choice on any channel (staff, API, an unsubscribe link),
  a request received, a correction of their details.

The audit trail, not the rows themselves, because it outlives them: the
retention purge deletes history after its category's period (a visit after
396 days in the shipped policy) and expired sign-in tokens after a day,
which would otherwise make a customer look inactive long before the period.
Staff looking a customer up, an API client's consent check, a consent
expiring or a mail sent is not activity: it is what we do, not what they do.

Only active records are closed. A restricted one (Art. 18: kept, not used,
at the customer's wish or after a partial erasure) waits for staff or its
``retained_until``; a customer with an open request or under a legal hold
(:mod:`consentmgr.requests.holds`) is left alone -- the hold is counted.
"""

from __future__ import annotations

import datetime as dt
import uuid
from functools import partial

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from consentmgr.actors import Actor
from consentmgr.audit import actions
from consentmgr.audit import services as audit
from consentmgr.audit.models import AuditEntry
from consentmgr.customers.models import Customer, CustomerStatus
from consentmgr.extensions import db
from consentmgr.requests import notices
from consentmgr.requests.deadlines import due_date
from consentmgr.requests.erasure import complete_erasure
from consentmgr.requests.lifecycle import record
from consentmgr.requests.models import (
    OPEN_STATUSES,
    DataSubjectRequest,
    LegalHold,
    RequestChannel,
    RequestStatus,
    RequestType,
)

#: What others record for the customer that counts as the customer's activity.
ACTIVITY_ACTIONS = (
    actions.CUSTOMER_HISTORY_ADDED, actions.CUSTOMER_RECTIFIED,
    actions.CONSENT_GRANTED, actions.CONSENT_WITHDRAWN, actions.CONSENT_REFUSED,
    actions.CONSENT_OBJECTED, actions.REQUEST_RECEIVED,
)
#: The actor type of a customer acting for themselves (``customers.signin.portal_actor``).
CUSTOMER_ACTOR = "customer"
#: How long before closing an account its customer is warned; the closure waits this long
#: after the warning, whatever the period.
WARNING_DAYS = 30


def _activity_after(moment: sa.ColumnElement | dt.datetime) -> sa.ColumnElement[bool]:
    entry = aliased(AuditEntry)
    # Correlated to the customer (and a warning) of any enclosing query, not only the next one.
    return sa.exists().where(entry.subject_id == Customer.id, entry.occurred_at > moment,
                             sa.or_(entry.actor_type == CUSTOMER_ACTOR,
                                    entry.action.in_(ACTIVITY_ACTIONS))).correlate_except(entry)


def active_since(cutoff: dt.datetime) -> sa.ColumnElement[bool]:
    """True for a customer with any activity after ``cutoff`` (see the module's definition)."""
    return sa.or_(Customer.created_at > cutoff, _activity_after(cutoff))


def _open_request() -> sa.ColumnElement[bool]:
    return sa.exists().where(DataSubjectRequest.customer_id == Customer.id,
                             DataSubjectRequest.status.in_(OPEN_STATUSES))


def _held() -> sa.ColumnElement[bool]:
    return sa.exists().where(LegalHold.customer_id == Customer.id, LegalHold.lifted_at.is_(None))


def _inactive(cutoff: dt.datetime) -> sa.ColumnElement[bool]:
    return sa.and_(Customer.status == CustomerStatus.ACTIVE, Customer.retained_until.is_(None),
                   ~_open_request(), ~active_since(cutoff))


def _warned_since_last_activity(until: dt.datetime | None = None) -> sa.ColumnElement[bool]:
    # A warning (sent by ``until``, if given) that no activity followed: one per quiet spell.
    # Unbounded for "already warned?": a warning takes the audit trail's own time, which a run
    # that started at ``now`` has passed.
    warning = aliased(AuditEntry)
    sent = [] if until is None else [warning.occurred_at <= until]
    return sa.exists().where(warning.subject_id == Customer.id,
                             warning.action == actions.RETENTION_INACTIVITY_WARNED, *sent,
                             warning.occurred_at > Customer.created_at,
                             ~_activity_after(warning.occurred_at)).correlate_except(warning)


def _to_warn(now: dt.datetime, days: int) -> sa.ColumnElement[bool]:
    # Quiet for all but the last WARNING_DAYS of the period, and not yet warned this time.
    return sa.and_(_inactive(now - dt.timedelta(days=days - WARNING_DAYS)),
                   ~_warned_since_last_activity())


def _to_close(now: dt.datetime, days: int) -> sa.ColumnElement[bool]:
    # Quiet for the whole period, and warned since the last activity at least WARNING_DAYS
    # ago: nobody is closed without a fresh warning and the time to answer it.
    return sa.and_(_inactive(now - dt.timedelta(days=days)),
                   _warned_since_last_activity(now - dt.timedelta(days=WARNING_DAYS)))


def _counted(condition: sa.ColumnElement[bool]) -> tuple[int, int]:
    rows = db.session.execute(
        sa.select(_held().label("held"), sa.func.count()).select_from(Customer)
        .where(condition).group_by(sa.literal_column("held"))).all()
    counts = {bool(held): int(count) for held, count in rows}
    return counts.get(False, 0), counts.get(True, 0)


def count_to_warn(now: dt.datetime, days: int) -> int:
    """How many customers the run at ``now`` warns (held ones are never warned)."""
    return _counted(_to_warn(now, days))[0]


def count_to_close(now: dt.datetime, days: int) -> tuple[int, int]:
    """Accounts to close at ``now``: (warned and due, inactive for the period but held)."""
    due, _ = _counted(_to_close(now, days))
    _, held = _counted(_inactive(now - dt.timedelta(days=days)))
    return due, held


def customers_to_warn(now: dt.datetime, days: int, *, limit: int) -> list[Customer]:
    """Up to ``limit`` customers whose account closes in :data:`WARNING_DAYS` unless they act."""
    return list(db.session.scalars(
        sa.select(Customer).where(_to_warn(now, days), ~_held())
        .order_by(Customer.created_at, Customer.id).limit(limit)))


def customers_to_close(now: dt.datetime, days: int, *, limit: int) -> list[Customer]:
    """Up to ``limit`` accounts to close: inactive for ``days``, warned, under no legal hold."""
    return list(db.session.scalars(
        sa.select(Customer).where(_to_close(now, days), ~_held())
        .order_by(Customer.created_at, Customer.id).limit(limit)))


def warn_inactive_account(customer: Customer, *, actor: Actor, now: dt.datetime,
                          days: int) -> bool:
    """Tell the customer their account closes in :data:`WARNING_DAYS` unless they use it.

    Audited (``retention.inactivity-warned``: the customer's id and the
    closing date, nothing personal) -- the entry the closure waits for, and
    not itself activity. Flushes; returns whether a mail was queued.
    """
    closes_on = (now + dt.timedelta(days=WARNING_DAYS)).date()
    audit.record(actions.RETENTION_INACTIVITY_WARNED, actor=actor, subject_id=customer.id,
                 details={"inactive_after_days": days, "closes_on": closes_on.isoformat()})
    sent = notices.inactivity_warning(customer, inactive_days=days, closes_on=closes_on)
    db.session.flush()
    return sent


def close_inactive_account(customer: Customer, *, actor: Actor, now: dt.datetime,
                           inactive_days: int) -> DataSubjectRequest:
    """File the controller's erasure of an inactive account and carry it out; returns the request.

    The request is recorded and audited like any other (``request.received``,
    ``request.completed``, ``customer.erased``: ids, type and status, nothing
    personal); its channel ``inactivity`` says who started it. The customer
    is told once, by :func:`consentmgr.requests.notices.inactivity_closure`.
    Flushes; the boundary commits.
    """
    req = DataSubjectRequest(
        id=uuid.uuid4(), customer_id=customer.id, type=RequestType.ERASURE,
        channel=RequestChannel.INACTIVITY, status=RequestStatus.RECEIVED,
        received_at=now, due_at=due_date(now))
    db.session.add(req)
    record(req, actions.REQUEST_RECEIVED, actor=actor)
    return complete_erasure(req, actor=actor, now=now,
                            notice=partial(notices.inactivity_closure,
                                           inactive_days=inactive_days))
