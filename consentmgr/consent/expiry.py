"""Consent that lapses: when a grant expires, and the reminder sent before it does.

A purpose may say how long a consent to it lasts (``valid_for_days`` in the
policy's front matter); regulators expect consent to be refreshed (CNIL
guidance on cookies: 6 to 13 months; marketing consent is commonly renewed
every 24 months). The grant's expiry is stored on the consent state row
(``expires_at``) when the choice is recorded, and the check compares it with
the clock (:func:`consentmgr.consent.checks.decide`): expiry costs no write,
and the check cache, which holds rows rather than answers, cannot serve an
"allowed" past it.

Before a consent lapses, the worker mails the customer a reminder, once per
grant (:func:`send_renewal_reminders`). After it lapses, the worker records
the expiry (:func:`record_expiries`): the state row's status becomes
``expired`` and a ``consent.expired`` audit entry puts it in the change feed,
so systems that copy consent states hear of it. Both are scheduled in
``flask worker``. The check never waits for that job: it answers
``expired`` from the moment the term ends.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Session

from consentmgr.actors import Actor
from consentmgr.audit import actions
from consentmgr.audit import services as audit
from consentmgr.consent.catalogue import NoPolicyPublished, PurposeInfo, catalogue
from consentmgr.consent.check_cache import note_changed
from consentmgr.consent.models import ConsentState, ConsentStatus
from consentmgr.customers.models import Customer, CustomerStatus
from consentmgr.i18n import _, in_language, language_of, long_date
from consentmgr.runtime import of_session

if TYPE_CHECKING:  # the ledger imports this module, and unsubscribe imports the ledger
    from consentmgr.consent.unsubscribe import UnsubscribeLink

log = logging.getLogger(__name__)

#: The schedule that mails renewal reminders, and the default notice it gives. (Not
#: ``consent.…``: that spelling is kept for audit actions.)
REMINDER_SCHEDULE = "consent-expiry.send-reminders"
#: The schedule that records lapsed consents (status and change-feed entry).
EXPIRY_SCHEDULE = "consent-expiry.record-expiries"
#: Who records an expiry in the audit trail: nobody chose it, the term ran out.
EXPIRY_ACTOR = Actor("system", "consent-expiry")
DEFAULT_NOTICE_DAYS = 30
#: Reminders queued per batch (each is one sealed message and one job).
REMINDER_BATCH = 500

_STATE = ConsentState.__table__.c

#: Queues a plain-text message in the caller's unit of work:
#: ``send(to, subject, body, headers=...)``. The worker passes the mail outbox's
#: (``consentmgr.mail.send_mail_after_commit``).
Send = Callable[..., None]


def expires_at(info: PurposeInfo, status: ConsentStatus, *, granted_at: dt.datetime,
               now: dt.datetime) -> dt.datetime | None:
    """When a choice recorded now lapses: None unless it gives consent to a purpose with a term.

    The term runs from when the choice was made (``granted_at``: the time it
    was collected, for a choice that reached us later), never from the future.
    """
    if status != ConsentStatus.GIVEN or info.valid_for is None:
        return None
    return min(granted_at, now) + info.valid_for


def has_expired(expires: dt.datetime | None, now: dt.datetime) -> bool:
    """True once a grant's term is over (a grant without a term never expires)."""
    return expires is not None and expires <= now


@dataclass(frozen=True)
class ReminderRun:
    """What one run of :func:`send_renewal_reminders` did."""

    sent: int
    skipped: int

    @property
    def handled(self) -> int:
        """Grants looked at (and marked): fewer than the batch size means none are left."""
        return self.sent + self.skipped


def send_renewal_reminders(session: Session, *, now: dt.datetime, notice: dt.timedelta,
                           send: Send, batch: int = REMINDER_BATCH) -> ReminderRun:
    """Queue one reminder per grant that lapses within ``notice``, and mark it sent. Flushes.

    Call it until it returns fewer than ``batch`` (the scheduled job does).
    A grant gets at most one reminder: ``reminded_at`` is set in the same
    unit of work as the queued message, and a new choice clears it. Grants of
    restricted or erased customers, and grants the check no longer allows for
    another reason (a material change asks again anyway), are left alone.
    ``send`` queues each message: the worker's is the sealed mail outbox, so
    the address is never stored in clear and the message commits with the mark.
    """
    try:
        cat = catalogue(now.date())
    except NoPolicyPublished:
        return ReminderRun(0, 0)
    rows = session.execute(
        sa.select(_STATE.customer_id, _STATE.purpose, _STATE.policy_version, _STATE.expires_at)
        .join(Customer.__table__, Customer.__table__.c.id == _STATE.customer_id)
        .where(_STATE.status == ConsentStatus.GIVEN, _STATE.reminded_at.is_(None),
               _STATE.expires_at > now, _STATE.expires_at <= now + notice,
               Customer.__table__.c.status == CustomerStatus.ACTIVE)
        .order_by(_STATE.expires_at).limit(batch)
    ).all()
    sent = skipped = 0
    links = of_session(session).links
    for row in rows:
        info = cat.purposes.get(row.purpose)
        given_under = cat.effective_dates.get(row.policy_version)
        customer = None
        if (info is not None and info.legal_basis == "consent" and given_under is not None
                and given_under >= info.material_since):
            customer = session.get(Customer, row.customer_id)
        if customer is not None and info is not None and _remind(
                send, customer, info, row.expires_at, links.home(),
                links.unsubscribe(customer.id, info.slug, now=now)):
            sent += 1
        else:
            skipped += 1
        # Marked even when skipped: a grant the check no longer allows is asked
        # for again by other means, and must not hold up the batches after it.
        session.execute(
            sa.update(ConsentState.__table__)
            .where(_STATE.customer_id == row.customer_id, _STATE.purpose == row.purpose,
                   _STATE.expires_at == row.expires_at)
            .values(reminded_at=now),
            execution_options={"synchronize_session": False})
    session.flush()
    if sent or skipped:
        log.info("consent renewal reminders: %d queued, %d skipped", sent, skipped)
    return ReminderRun(sent, skipped)


def _remind(send: Send, customer: Customer, info: PurposeInfo, expires: dt.datetime,
            link: str, unsubscribe: UnsubscribeLink) -> bool:
    address = customer.email
    if not address:
        return False
    # In the customer's language (GDPR Art. 12(1)); ``send`` queues it inside the
    # block, so the message is marked as written in it (Content-Language).
    with in_language(language_of(customer.preferences)) as language:
        body = "\n".join([
            _("Your consent to “%(purpose)s” ends on %(day)s.", purpose=info.title_in(language),
              day=long_date(expires)),
            "",
            _("After that day we no longer use your data for this purpose. If you want us to "
              "continue, give your consent again in your privacy portal; if not, there is "
              "nothing to do."),
            "",
            _("Your privacy portal: %(link)s", link=link),
            _("Withdraw this consent now, in one click: %(link)s", link=unsubscribe.url),
        ]) + "\n"
        # A reminder about a marketing consent is marketing mail: it carries the
        # one-click unsubscribe headers (RFC 8058) for this customer and purpose.
        send(address, _("Your consent is about to end"), body, headers=unsubscribe.headers)
    return True


def record_expiries(session: Session, *, now: dt.datetime, batch: int = REMINDER_BATCH) -> int:
    """Mark up to ``batch`` lapsed grants ``expired``, each with a ``consent.expired`` entry. Flushes.

    Returns how many grants were looked at (fewer than ``batch``: none left).
    The update is conditional on the grant (``event_id``) and its status, so
    a choice committed meanwhile is never overwritten; as in the ledger, the
    state row is locked before the audit entry is written, so the entry
    follows every earlier choice for that purpose in the feed. Grants of
    erased customers are left alone (the check says ``erased`` for them).
    """
    customers = Customer.__table__.c
    rows = session.execute(
        sa.select(_STATE.customer_id, _STATE.purpose, _STATE.policy_version, _STATE.event_id,
                  _STATE.expires_at)
        .join(Customer.__table__, customers.id == _STATE.customer_id)
        .where(_STATE.status == ConsentStatus.GIVEN, _STATE.expires_at <= now,
               customers.status != CustomerStatus.ERASED)
        .order_by(_STATE.expires_at).limit(batch)
    ).all()
    for row in rows:
        changed = session.execute(
            sa.update(ConsentState.__table__)
            .where(_STATE.customer_id == row.customer_id, _STATE.purpose == row.purpose,
                   _STATE.event_id == row.event_id, _STATE.status == ConsentStatus.GIVEN)
            .values(status=ConsentStatus.EXPIRED),
            execution_options={"synchronize_session": False})
        if not changed.rowcount:
            continue  # a new choice came first
        audit.record(actions.CONSENT_EXPIRED, actor=EXPIRY_ACTOR, subject_id=row.customer_id,
                     details={"purpose": row.purpose, "status": ConsentStatus.EXPIRED.value,
                              "policy_version": row.policy_version,
                              "expired_at": row.expires_at.isoformat()})
        note_changed(session, row.customer_id)
    session.flush()
    if rows:
        log.info("consent expiries recorded: %d", len(rows))
    return len(rows)
