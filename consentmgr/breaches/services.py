"""The breach register: record a breach, run its 72-hour clock, tell the authority and customers.

GDPR Art. 33(1): the controller notifies the supervisory authority of a
personal-data breach without undue delay and, where feasible, within 72
hours of becoming aware of it; Art. 33(5): every breach is documented,
notified or not. Art. 34: when a breach is likely to result in a high risk
to people's rights and freedoms, they are told too, in clear language.

Each function validates, changes, writes its audit entry (ids and counts,
never the register's text) and flushes; the boundary commits. Customers to
tell are selected from the audit trail (every customer whose record a
given staff account viewed or revealed in a time window) by the worker, not
in the DPO's request, and mailed in committed batches through the sealed
outbox (see "telling customers" below).
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from consentmgr.actors import Actor
from consentmgr.audit import actions
from consentmgr.audit import services as audit
from consentmgr.breaches.models import (
    Breach,
    BreachNoticeRun,
    BreachRecipient,
    CustomerNotice,
)
from consentmgr.customers.models import Customer
from consentmgr.errors import Conflict, NotFound, ValidationFailed
from consentmgr.extensions import db
from consentmgr.i18n import _, gettext, in_language, language_of
from consentmgr.jobs.queue import enqueue
from consentmgr.mail import send_mail_after_commit
from consentmgr.policies.services import PolicyNotFound, current_version, document_of
from consentmgr.runtime import of_session
from consentmgr.sql import as_utc, as_uuid, get_or_raise, utcnow
from consentmgr.staff.accounts import find_staff_by_email
from consentmgr.staff.models import StaffUser
from consentmgr.text import clean_text
from consentmgr.unit_of_work import unit_of_work

MAX_TEXT = 4000
MAX_PEOPLE = 100_000_000
#: Customers loaded (and their keys unwrapped) per batch when mailing them.
MAIL_BATCH = 200
#: Batches per ``breaches.notify`` job: a job ends well within its lease and enqueues the next.
BATCHES_PER_JOB = 25
#: The most customers one run selects (the audit query's cap).
MAX_SELECTED = 1_000_000
#: The job that mails a notification run's customers (registered in ``flask worker``).
NOTICE_JOB = "breaches.notify"
#: Within this long of the deadline a breach is flagged as due soon.
SOON = dt.timedelta(hours=24)


class BreachNotFound(NotFound):
    """No register entry with that id."""

    def __init__(self) -> None:
        super().__init__("No breach with that id is in the register.")


class NoticeNotRequired(Conflict):
    """Customers are mailed only once the DPO has decided that they must be told."""

    def __init__(self) -> None:
        super().__init__("Decide first that the people affected must be told (Art. 34).")


# ------------------------------------------------------------------ input


def _text(value: object, field: str, *, required: bool = True) -> str | None:
    return clean_text(value, field, required=required, limit=MAX_TEXT)


def _moment(value: object, field: str, *, now: dt.datetime,
            not_before: dt.datetime | None = None) -> dt.datetime:
    """An aware UTC time that is not in the future (nor before ``not_before``)."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValidationFailed({field: ["Enter a date and time such as 2026-11-28 09:30."]}) \
                from None
    if not isinstance(value, dt.datetime):
        raise ValidationFailed({field: ["Enter a date and time such as 2026-11-28 09:30."]})
    moment = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else as_utc(value)
    if moment > now:
        raise ValidationFailed({field: ["This cannot be in the future."]})
    if not_before is not None and moment < not_before:
        raise ValidationFailed({field: ["This cannot be before the breach was discovered."]})
    return moment


def _people(value: object) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_PEOPLE:
        raise ValidationFailed({"approx_people": [
            f"Enter a whole number from 0 to {MAX_PEOPLE:,} (your best estimate)."]})
    return value


def _errors_of(*checks: Any) -> dict[str, list[str]]:
    """Run every check (a zero-argument callable); collect all their errors at once."""
    errors: dict[str, list[str]] = {}
    for check in checks:
        try:
            check()
        except ValidationFailed as exc:
            for key, messages in exc.errors.items():
                errors.setdefault(key, []).extend(messages)
    return errors


# ------------------------------------------------------------------ the register


def record_breach(details: Mapping[str, Any], *, actor: Actor, now: dt.datetime | None = None,
                  request_id: str | None = None, client_address: str | None = None) -> Breach:
    """Add a breach to the register (Art. 33(5)); its 72-hour clock runs from ``discovered_at``.

    ``details``: ``discovered_at`` (aware datetime, or naive meaning UTC, or
    ISO text; not in the future), ``description``, ``data_categories``,
    ``approx_people``, ``consequences``, ``measures``. Every problem is
    reported at once as :class:`ValidationFailed`; nothing is written then.
    """
    now = now or utcnow()
    values: dict[str, Any] = {}

    def put(name: str, parse: Any) -> Any:
        return lambda: values.__setitem__(name, parse())

    errors = _errors_of(
        put("discovered_at", lambda: _moment(details.get("discovered_at"), "discovered_at",
                                             now=now)),
        put("approx_people", lambda: _people(details.get("approx_people"))),
        *(put(name, lambda name=name: _text(details.get(name), name))
          for name in ("description", "data_categories", "consequences", "measures")),
    )
    if errors:
        raise ValidationFailed(errors)
    breach = Breach(id=uuid.uuid4(), recorded_at=now, recorded_by=str(actor),
                    discovered_at=values["discovered_at"], approx_people=values["approx_people"],
                    customer_notice=CustomerNotice.UNDECIDED, customers_notified=0)
    for name in ("description", "data_categories", "consequences", "measures"):
        setattr(breach, name, values[name])
    db.session.add(breach)
    audit.record(actions.BREACH_RECORDED, actor=actor, request_id=request_id,
                 client_address=client_address,
                 details={"breach": str(breach.id), "approx_people": breach.approx_people})
    db.session.flush()
    return breach


def get_breach(breach_id: uuid.UUID | str) -> Breach:
    """The register entry with this id; raises :class:`BreachNotFound` (a malformed id too)."""
    return get_or_raise(db.session, Breach, breach_id, BreachNotFound)


def list_breaches(limit: int = 200) -> list[Breach]:
    """The register, latest discovery first."""
    return list(db.session.scalars(
        sa.select(Breach).order_by(Breach.discovered_at.desc(), Breach.id).limit(limit)))


_OPEN = sa.or_(
    Breach.authority_notified_at.is_(None),
    Breach.customer_notice == CustomerNotice.UNDECIDED,
    sa.and_(Breach.customer_notice == CustomerNotice.REQUIRED,
            Breach.customers_notified_at.is_(None)),
)


def open_breaches() -> list[Breach]:
    """Breaches with something left to do, the nearest authority deadline first."""
    return list(db.session.scalars(
        sa.select(Breach).where(_OPEN).order_by(Breach.discovered_at, Breach.id)))


def record_authority_notification(breach: Breach, *, notified_at: object, reference: object,
                                  actor: Actor, now: dt.datetime | None = None,
                                  request_id: str | None = None,
                                  client_address: str | None = None) -> None:
    """Record that the supervisory authority was told (Art. 33(1)), when and under what reference.

    ``notified_at`` may not be in the future nor before the discovery. A
    second notification (a follow-up, Art. 33(4)) replaces the time and
    reference; the audit trail keeps both.
    """
    now = now or utcnow()
    values: dict[str, Any] = {}
    errors = _errors_of(
        lambda: values.__setitem__("at", _moment(notified_at, "notified_at", now=now,
                                                 not_before=breach.discovered_at)),
        lambda: values.__setitem__("reference", _text(reference, "reference")),
    )
    if errors:
        raise ValidationFailed(errors)
    late = values["at"] > breach.authority_due_at
    breach.authority_notified_at = values["at"]
    breach.authority_reference = values["reference"]
    audit.record(actions.BREACH_AUTHORITY_NOTIFIED, actor=actor, request_id=request_id,
                 client_address=client_address,
                 details={"breach": str(breach.id), "within_72_hours": not late})
    db.session.flush()


def decide_customer_notice(breach: Breach, *, required: object, reason: object, actor: Actor,
                           request_id: str | None = None,
                           client_address: str | None = None) -> None:
    """Decide whether the people affected must be told (Art. 34), with the reason kept."""
    errors: dict[str, list[str]] = {}
    if required not in (True, False):
        errors["required"] = ["Choose whether the people affected must be told."]
    errors.update(_errors_of(lambda: _text(reason, "reason")))
    if errors:
        raise ValidationFailed(errors)
    breach.customer_notice = CustomerNotice.REQUIRED if required else CustomerNotice.NOT_REQUIRED
    breach.notice_reason = _text(reason, "reason")
    audit.record(actions.BREACH_NOTICE_DECIDED, actor=actor, request_id=request_id,
                 client_address=client_address,
                 details={"breach": str(breach.id), "notice": breach.customer_notice.value})
    db.session.flush()


# ------------------------------------------------------------------ who is affected


def find_staff_account(account: object) -> StaffUser:
    """The staff account named by its email address or id; unknown → :class:`ValidationFailed`."""
    text = account.strip() if isinstance(account, str) else ""
    user = None
    if text:
        user = find_staff_by_email(text) if "@" in text else None
        if user is None and "@" not in text:
            user = db.session.get(StaffUser, _uuid_or_none(text))
    if user is None:
        raise ValidationFailed({"staff_account": [
            "No staff account has this email address or id."]})
    return user


def _uuid_or_none(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def _window_end(value: object, now: dt.datetime) -> dt.datetime:
    # The end may be "now" or later (a window still open): clipped to now.
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValidationFailed({"until": ["Enter a date and time such as 2026-11-28 17:00."]}) \
                from None
    if not isinstance(value, dt.datetime):
        raise ValidationFailed({"until": ["Enter a date and time such as 2026-11-28 17:00."]})
    moment = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else as_utc(value)
    return min(moment, now)


# ------------------------------------------------------------------ telling customers
#
# The DPO's request only records what was asked (a BreachNoticeRun: the
# breach, the staff account, the window, who asked, when) and enqueues the
# job ``breaches.notify`` with the run's id. The worker selects the
# customers and mails them in committed batches: each batch's messages
# (sealed in the outbox), its BreachRecipient rows, its audit entries and
# the run's progress commit together, so a worker killed mid-run leaves
# the next one to go on from the last committed batch, and nobody is
# mailed twice (BreachRecipient's key is the breach and the customer).


@dataclass(frozen=True)
class Window:
    """Whose accesses, and when: what selects the customers to tell."""

    account: StaffUser
    since: dt.datetime
    until: dt.datetime


def notice_window(account: object, since: object, until: object, *,
                  now: dt.datetime | None = None) -> Window:
    """Parse a staff account (email or id) and a window; every problem at once.

    An unknown account, a malformed time, or an empty window (the end not
    after the start) raise :class:`ValidationFailed`. An end after ``now``
    is clipped to ``now``.
    """
    now = now or utcnow()
    found: dict[str, Any] = {}
    errors = _errors_of(
        lambda: found.__setitem__("user", find_staff_account(account)),
        lambda: found.__setitem__("since", _moment(since, "since", now=now)),
        lambda: found.__setitem__("until", _window_end(until, now)),
    )
    if not errors and found["since"] >= found["until"]:
        errors["until"] = ["The end of the window must be after its start."]
    if errors:
        raise ValidationFailed(errors)
    return Window(found["user"], found["since"], found["until"])


def _accessed(staff_account_id: uuid.UUID, since: dt.datetime,
              until: dt.datetime) -> list[uuid.UUID]:
    return audit.customers_accessed_by(str(staff_account_id), since=since, until=until,
                                       limit=MAX_SELECTED)


def select_affected_customers(account: object, since: object, until: object, *,
                              now: dt.datetime | None = None) -> list[uuid.UUID]:
    """Every customer whose record ``account`` viewed or revealed between ``since`` and ``until``.

    Each once, oldest access first. Bad input raises :class:`ValidationFailed`
    (see :func:`notice_window`).
    """
    window = notice_window(account, since, until, now=now)
    return _accessed(window.account.id, window.since, window.until)


def count_affected_customers(account: object, since: object, until: object, *,
                             now: dt.datetime | None = None) -> int:
    """How many customers :func:`request_notice` would select now (the DPO's preview)."""
    return len(select_affected_customers(account, since, until, now=now))


def request_notice(session: Session, breach: Breach, account: object, since: object,
                   until: object, *, actor: Actor, now: dt.datetime | None = None,
                   request_id: str | None = None,
                   client_address: str | None = None) -> BreachNoticeRun:
    """Ask the worker to mail the customers ``account`` opened in the window (Art. 34). Flushes.

    Records the request (a :class:`BreachNoticeRun`, the window as data)
    with its audit entry and enqueues job ``breaches.notify`` carrying the
    run's id only; nothing is selected or mailed here. Bad input raises
    :class:`ValidationFailed` and nothing is written; a breach whose
    customers need not (or not yet) be told raises :class:`NoticeNotRequired`.
    """
    now = now or utcnow()
    window = notice_window(account, since, until, now=now)
    if breach.customer_notice != CustomerNotice.REQUIRED:
        raise NoticeNotRequired()
    run = BreachNoticeRun(id=uuid.uuid4(), breach_id=breach.id,
                          staff_account_id=window.account.id, since=window.since,
                          until=window.until, requested_by=str(actor),
                          requested_role=actor.role, requested_at=now, request_id=request_id,
                          selected=None, position=0, mailed=0, already_told=0, unreachable=0)
    session.add(run)
    audit.record(actions.BREACH_NOTICE_REQUESTED, actor=actor, request_id=request_id,
                 client_address=client_address,
                 details={"breach": str(breach.id), "run": str(run.id),
                          "staff_account": str(window.account.id)})
    enqueue(session, NOTICE_JOB, {"run": run.id}, now=now)
    session.flush()
    return run


def notice_runs(session: Session, breach: Breach) -> list[BreachNoticeRun]:
    """The notification runs asked for ``breach``, the latest first (for its page)."""
    return list(session.scalars(
        sa.select(BreachNoticeRun).where(BreachNoticeRun.breach_id == breach.id)
        .order_by(BreachNoticeRun.requested_at.desc(), BreachNoticeRun.id)))


def _requester(run: BreachNoticeRun) -> Actor:
    kind, _colon, ident = run.requested_by.partition(":")
    return Actor(kind, ident, role=run.requested_role)


def notice_batch(session: Session, run_id: uuid.UUID, *,
                 selection: list[uuid.UUID] | None = None, size: int = MAIL_BATCH,
                 now: dt.datetime | None = None) -> tuple[list[uuid.UUID] | None, bool]:
    """Mail the next ``size`` selected customers of run ``run_id``; flushes, never commits.

    Returns the selection (pass it back to the next call, to select once
    per job) and whether customers are left. The run's and the breach's
    rows are locked first (PostgreSQL), so two workers, or two runs of one
    breach, take batches in turn. Customers told before (by any run of the
    breach) are skipped and counted; erased records are counted as
    unreachable. A breach whose decision changed to "need not be told"
    ends the run.
    """
    now = now or utcnow()
    run = session.get(BreachNoticeRun, run_id, with_for_update=True, populate_existing=True)
    if run is None or run.finished_at is not None:
        return selection, False
    breach = session.get(Breach, run.breach_id, with_for_update=True, populate_existing=True)
    actor = _requester(run)
    if breach is None or breach.customer_notice != CustomerNotice.REQUIRED:
        return selection, _finish(run, actor, now, stopped=True)
    if selection is None:
        selection = _accessed(run.staff_account_id, run.since, run.until)
        run.selected = len(selection)
    chunk = selection[run.position:run.position + size]
    told = set(session.scalars(sa.select(BreachRecipient.customer_id).where(
        BreachRecipient.breach_id == breach.id, BreachRecipient.customer_id.in_(chunk))))
    fresh = [cid for cid in chunk if cid not in told]
    mailed = unreachable = 0
    if fresh:
        home = of_session(session).links.home()
        messages: dict[str, tuple[str, str]] = {}  # one per language, written once per batch
        loaded = list(session.scalars(sa.select(Customer).where(Customer.id.in_(fresh))))
        for customer in loaded:
            address = customer.email
            if not address:
                continue  # an erased record: nobody to write to
            # Art. 34(2) "clear and plain language": the customer's own (Art. 12(1)).
            with in_language(language_of(customer.preferences)) as language:
                if language not in messages:
                    messages[language] = _message(breach, home)
                subject, body = messages[language]
                send_mail_after_commit(address, subject, body)
            session.add(BreachRecipient(breach_id=breach.id, customer_id=customer.id,
                                        notified_at=now))
            audit.record(actions.BREACH_CUSTOMER_NOTIFIED, actor=actor, subject_id=customer.id,
                         request_id=run.request_id,
                         details={"breach": str(breach.id), "run": str(run.id)})
            mailed += 1
        unreachable = len(fresh) - mailed  # erased, or deleted since: nobody to write to
        session.flush()
        for customer in loaded:
            # Unchanged, and done with: out of the session, or every later batch's key lookup
            # (which walks the encrypted records loaded) would reload them after each commit.
            session.expunge(customer)
    run.position += len(chunk)
    run.mailed += mailed
    run.already_told += len(chunk) - len(fresh)
    run.unreachable += unreachable
    if mailed:
        breach.customers_notified_at = breach.customers_notified_at or now
        breach.customers_notified = (breach.customers_notified or 0) + mailed
    more = run.position < len(selection)
    if not more:
        _finish(run, actor, now, stopped=False)
    session.flush()
    return selection, more


def _finish(run: BreachNoticeRun, actor: Actor, now: dt.datetime, *, stopped: bool) -> bool:
    run.finished_at = now
    audit.record(actions.BREACH_NOTICE_FINISHED, actor=actor, request_id=run.request_id,
                 details={"breach": str(run.breach_id), "run": str(run.id),
                          "selected": run.selected or 0, "mailed": run.mailed,
                          "already_told": run.already_told, "unreachable": run.unreachable,
                          "stopped": stopped})
    return False


def run_notice_job(session: Session, payload: Mapping[str, Any], *, size: int = MAIL_BATCH,
                   batches: int = BATCHES_PER_JOB) -> None:
    """The job ``breaches.notify``: up to ``batches`` committed batches of one run.

    Runs inside the job's unit of work (the worker's boundary): each batch
    commits on its own; if customers are left after ``batches``, the next
    job for the run is enqueued with this one's "done" mark, so no job
    outlives its lease. Rerunning a finished run mails nobody.
    """
    run_id = as_uuid(payload.get("run"))
    if run_id is None:
        raise ValueError("a breach notice job without a run id")
    selection: list[uuid.UUID] | None = None
    for _batch in range(batches):
        with unit_of_work(session):
            selection, more = notice_batch(session, run_id, selection=selection, size=size)
        if not more:
            return
    enqueue(session, NOTICE_JOB, {"run": run_id}, now=utcnow())


def _message(breach: Breach, home_link: str) -> tuple[str, str]:
    # Art. 34(2): in clear and plain language, the nature of the breach, the
    # contact point, the likely consequences and the measures taken. Written in
    # the language in force (the caller's in_language); the register's own text
    # (what happened, consequences, measures) is quoted as the DPO wrote it.
    try:
        document = document_of(current_version())
        intro = _("%(controller)s must tell you about a security incident that affects your "
                  "personal data (GDPR Art. 34).", controller=document.controller.name)
        contact = _("If you have questions, please contact %(name)s, our data protection "
                    "officer: %(email)s.", name=document.dpo.name, email=document.dpo.email)
    except PolicyNotFound:
        intro = _("We must tell you about a security incident that affects your personal data "
                  "(GDPR Art. 34).")
        contact = _("If you have questions, please contact our data protection officer.")
    lines = [
        _("Dear customer,"),
        "",
        intro,
        "",
        _("What happened:"),
        breach.description or "",
        "",
        _("What it may mean for you:"),
        breach.consequences or "",
        "",
        _("What we have done about it:"),
        breach.measures or "",
        "",
        contact,
        "",
        _("Your privacy portal: %(link)s", link=home_link),
    ]
    return _("Important: a security incident affecting your data"), "\n".join(lines)


def customers_told(breach: Breach) -> int:
    """How many customers have been mailed about ``breach``."""
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(BreachRecipient).where(
        BreachRecipient.breach_id == breach.id)) or 0)


# ------------------------------------------------------------------ the clock


@dataclass(frozen=True)
class Countdown:
    """Where a breach stands against the 72-hour deadline, as of ``now``."""

    due_at: dt.datetime
    notified_at: dt.datetime | None
    remaining: dt.timedelta  # negative once overdue

    @property
    def overdue(self) -> bool:
        """Not notified, and the 72 hours are over."""
        return self.notified_at is None and self.remaining.total_seconds() < 0

    @property
    def soon(self) -> bool:
        """Not notified, not overdue, due within a day."""
        return self.notified_at is None and not self.overdue and self.remaining <= SOON

    @property
    def text(self) -> str:
        """``41 h 12 min left``, ``overdue by 3 h 5 min``, or when it was notified (in the
        language of the page that shows it)."""
        if self.notified_at is not None:
            when = f"{self.notified_at:%Y-%m-%d %H:%M}"
            return (gettext("Notified late (%(when)s UTC)", when=when)
                    if self.notified_at > self.due_at
                    else gettext("Notified in time (%(when)s UTC)", when=when))
        minutes = math.floor(abs(self.remaining.total_seconds()) / 60)
        span = gettext("%(hours)s h %(minutes)s min", hours=minutes // 60, minutes=minutes % 60)
        return (gettext("Overdue by %(span)s", span=span) if self.overdue
                else gettext("%(span)s left", span=span))


def countdown(breach: Breach, now: dt.datetime | None = None) -> Countdown:
    """The 72-hour clock of ``breach`` (Art. 33(1)) as of ``now``."""
    now = now or utcnow()
    return Countdown(due_at=breach.authority_due_at, notified_at=breach.authority_notified_at,
                     remaining=breach.authority_due_at - now)
