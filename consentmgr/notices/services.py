"""Notices before a material change: telling affected customers what changes, and from when.

The shipped policy promises that customers are told before a material change
takes effect (GDPR Art. 13(3) and 12(1): information in good time, in clear
language; EDPB Guidelines 05/2020 §§ 108-110 on updating the information
given to data subjects). A version needs a notice when it is published with
a future effective date and at least one of its purposes is *new* or
*materially changed* against the previous version
(:mod:`consentmgr.policies.changes` says what is material).

Who is affected, per purpose that needs a fresh notice, among **active**
customers only (restricted ones are not processed, GDPR Art. 18; erased
ones are gone):

* a purpose whose new legal basis is **consent**: the customers whose
  current consent to it is *given* (their consent is what changes; a new
  consent purpose affects nobody yet: it is offered in the portal);
* a purpose on **any other basis** (contract, legal obligation, legitimate
  interest, ...): every active customer, except those whose objection to
  it stands (their data are no longer used for it, GDPR Art. 21).

A customer affected by several purposes gets one message that lists them.

Publishing (``flask policies publish``) enqueues the job
``policies.notify-change`` (payload: the version's id). Each job mails one batch in its own unit of work: the sealed
messages (:func:`consentmgr.mail.send_mail_after_commit`, no
``List-Unsubscribe``: a legal notice is not marketing), one
:class:`~consentmgr.notices.models.PolicyNotice` row per customer
and one audit entry for the batch (counts and slugs, no personal data)
commit together with the job's "done" mark and the next job, which waits
long enough to keep to ``CONSENTMGR_POLICY_NOTICE_RATE`` messages a
minute. A worker killed mid-batch commits none of it; the job is claimed
again when its lease runs out. ``policy_notices``' key (version, customer)
means nobody is told twice about one version, whoever runs the batches.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from consentmgr.actors import Actor
from consentmgr.audit import actions
from consentmgr.audit import services as audit
from consentmgr.consent.models import ConsentState, ConsentStatus
from consentmgr.customers.models import Customer, CustomerStatus
from consentmgr.errors import Conflict
from consentmgr.i18n import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    _,
    in_language,
    language_of,
    lazy_gettext,
    long_date,
    supported,
)
from consentmgr.jobs.queue import enqueue
from consentmgr.notices.models import PolicyNotice
from consentmgr.policies.document import PolicyDocument
from consentmgr.policies.models import PolicyVersion
from consentmgr.policies.versions import (
    PolicyNotFound,
    document_of,
    get_version,
    previous_version,
)
from consentmgr.runtime import of_session
from consentmgr.sql import utcnow

log = logging.getLogger(__name__)

#: The job kind that mails one batch of a version's notice.
NOTICE_JOB = "policies.notify-change"
#: Messages queued a minute when ``CONSENTMGR_POLICY_NOTICE_RATE`` is unset.
DEFAULT_RATE = 600
#: At most this many customers per batch (one job, one commit).
MAX_BATCH = 200
#: Who writes the batches' audit entries when the worker runs them.
NOTICE_ACTOR = Actor("system", "policy-notices")

#: Queues a plain-text message in the caller's unit of work: ``send(to, subject, body)``.
Send = Callable[..., None]

CONSENT = "consent"

# What each material field means to a customer, for the summary (lazy: read in the
# language of the mail or the page that shows it).
FIELD_WORDS = {
    "description": lazy_gettext("what we do with your data"),
    "legal_basis": lazy_gettext("the legal basis"),
    "interest": lazy_gettext("the interest we rely on"),
    "data_categories": lazy_gettext("which data we use"),
    "recipients": lazy_gettext("who receives the data"),
    "transfers": lazy_gettext("transfers to other countries"),
    "sale_or_share": lazy_gettext("whether the data are sold or shared"),
    "direct_marketing": lazy_gettext("whether it is direct marketing"),
    "valid_for_days": lazy_gettext("how long a consent lasts"),
}


class NoNoticeNeeded(Conflict):
    """The version needs no notice: it is in effect already, is the first, or changes
    nothing material. Nothing is sent."""


@dataclass(frozen=True)
class ChangedPurpose:
    """A purpose that needs a fresh notice, and whose processing of a customer it concerns."""

    slug: str
    title: str
    kind: str  # "new" or "materially-changed"
    legal_basis: str
    changed_fields: tuple[str, ...]

    @property
    def by_consent(self) -> bool:
        """True if it concerns those who consented; else everyone who has not objected."""
        return self.legal_basis == CONSENT

    @property
    def what_changes(self) -> str:
        """The change in a few words, for a mail or the banner, in the language in force."""
        if self.kind == "new":
            return _("a new purpose")
        words = [str(FIELD_WORDS.get(name, name.replace("_", " "))) for name in self.changed_fields]
        return _("changes to %(fields)s", fields=", ".join(words)) if words \
            else _("a material change")


@dataclass(frozen=True)
class NoticeScope:
    """A version that needs a notice, the one it replaces, and the purposes that changed."""

    version: PolicyVersion
    previous: PolicyVersion
    purposes: tuple[ChangedPurpose, ...]

    @property
    def consent_slugs(self) -> list[str]:
        """Purposes whose affected customers are those who consented."""
        return [p.slug for p in self.purposes if p.by_consent]

    @property
    def processing_slugs(self) -> list[str]:
        """Purposes whose affected customers are all who have not objected."""
        return [p.slug for p in self.purposes if not p.by_consent]


def changed_purposes(version: PolicyVersion) -> tuple[ChangedPurpose, ...]:
    """The purposes of ``version`` that are new or materially changed, in policy order."""
    return tuple(
        ChangedPurpose(p.slug, p.title, p.change_kind.value, p.legal_basis,
                       tuple(p.changed_fields or ()))
        for p in version.purposes if p.change_kind.needs_fresh_notice)


def needs_notice(version: PolicyVersion, *, today: dt.date) -> bool:
    """True if ``version`` takes effect after ``today``, follows another, and changes something
    material."""
    return (version.effective_date > today and previous_version(version) is not None
            and bool(changed_purposes(version)))


def notice_scope(version: PolicyVersion | str, *, today: dt.date | None = None) -> NoticeScope:
    """What a notice of ``version`` (a label or a row) covers.

    Raises :class:`PolicyNotFound` for an unknown label and
    :class:`NoNoticeNeeded` when the version is in effect already, is the
    first one, or changes nothing material.
    """
    today = today or utcnow().date()
    if isinstance(version, str):
        version = get_version(version)
    if version.effective_date <= today:
        raise NoNoticeNeeded(
            f"Version {version.version} took effect on {version.effective_date.isoformat()}: "
            "a notice must come before the change; nothing was sent.")
    previous = previous_version(version)
    if previous is None:
        raise NoNoticeNeeded(f"Version {version.version} is the first published version: "
                             "there is no change to tell anyone of; nothing was sent.")
    purposes = changed_purposes(version)
    if not purposes:
        raise NoNoticeNeeded(f"Version {version.version} changes nothing material against "
                             f"{previous.version}; nothing was sent.")
    return NoticeScope(version, previous, purposes)


# ------------------------------------------------------------------ who is affected

_STATE = ConsentState.__table__.c
_CUSTOMER = Customer.__table__.c
_NOTICE = PolicyNotice.__table__.c


def _affected_by(slug_conditions: sa.ColumnElement[bool]) -> sa.ColumnElement[bool]:
    return sa.exists().where(_STATE.customer_id == _CUSTOMER.id, slug_conditions)


def _affected(scope: NoticeScope, purposes: list[ChangedPurpose]) -> sa.ColumnElement[bool]:
    consent = [p.slug for p in purposes if p.by_consent]
    processing = [p.slug for p in purposes if not p.by_consent]
    conditions: list[sa.ColumnElement[bool]] = []
    if consent:
        conditions.append(_affected_by(sa.and_(_STATE.purpose.in_(consent),
                                               _STATE.status == ConsentStatus.GIVEN)))
    if processing:
        objected = (sa.select(sa.func.count()).select_from(ConsentState.__table__)
                    .where(_STATE.customer_id == _CUSTOMER.id, _STATE.purpose.in_(processing),
                           _STATE.status == ConsentStatus.OBJECTED).scalar_subquery())
        conditions.append(objected < len(processing))
    return sa.or_(*conditions) if conditions else sa.false()


def _selection(scope: NoticeScope, purposes: list[ChangedPurpose] | None = None,
               *, untold: bool = True) -> sa.Select[Any]:
    query = sa.select(_CUSTOMER.id).where(
        _CUSTOMER.status == CustomerStatus.ACTIVE,
        _affected(scope, list(scope.purposes) if purposes is None else purposes))
    if untold:
        query = query.where(~sa.exists().where(_NOTICE.policy_version_id == scope.version.id,
                                               _NOTICE.customer_id == _CUSTOMER.id))
    return query


@dataclass(frozen=True)
class NoticeCounts:
    """A dry run: how many customers a notice concerns, in all and per purpose."""

    affected: int
    untold: int
    per_purpose: dict[str, int] = field(default_factory=dict)


def count_affected(session: Session, scope: NoticeScope) -> NoticeCounts:
    """How many active customers the notice of ``scope`` concerns; writes nothing."""
    def count(query: sa.Select[Any]) -> int:
        return int(session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0)

    return NoticeCounts(
        affected=count(_selection(scope, untold=False)),
        untold=count(_selection(scope)),
        per_purpose={p.slug: count(_selection(scope, [p], untold=False)) for p in scope.purposes})


# ------------------------------------------------------------------ the message


@dataclass(frozen=True)
class NoticeContent:
    """What one customer's notice says, before it is put into words in their language."""

    version: str
    summary: str
    effective_date: dt.date
    purposes: tuple[ChangedPurpose, ...]
    compare_url: str
    portal_url: str


def _compose(notice: NoticeContent) -> tuple[str, str]:
    """Subject and body in the language in force (see :func:`_writer`)."""
    day = long_date(notice.effective_date)
    lines = [
        _("Dear customer,"),
        "",
        _("our privacy policy changes on %(day)s (version %(version)s).", day=day,
          version=notice.version),
        "",
        notice.summary.strip(),
        "",
        _("What changes for the ways we use your data:"),
    ]
    for purpose in notice.purposes:
        line = _("- “%(purpose)s”: %(change)s.", purpose=purpose.title,
                 change=purpose.what_changes)
        if purpose.by_consent and purpose.kind != "new":
            line += " " + _("Your consent covers the current text only: we will ask you "
                            "again, and nothing changes for this purpose until you agree.")
        lines.append(line)
    lines += [
        "",
        _("See exactly what changes, side by side: %(link)s", link=notice.compare_url),
        _("Your privacy portal, where you can give, withdraw or object: %(link)s",
          link=notice.portal_url),
        "",
        _("This is a legal notice about how we handle your personal data; it is sent to every "
          "customer the change concerns."),
    ]
    return _("Our privacy policy changes on %(day)s", day=day), "\n".join(lines) + "\n"


def _writer(language: str) -> Callable[[NoticeContent], tuple[str, str]]:
    def write(notice: NoticeContent) -> tuple[str, str]:
        with in_language(language):
            return _compose(notice)
    return write


# One writer per language the app speaks (the German words are in the catalogue,
# consentmgr/translations): a customer's stored preference picks the writer,
# anything else falls back to English (GDPR Art. 12(1)).
WRITERS: dict[str, Callable[[NoticeContent], tuple[str, str]]] = {
    code: _writer(code) for code in LANGUAGES}


def notice_message(language: str | None, notice: NoticeContent) -> tuple[str, str]:
    """The subject and plain-text body of ``notice`` in ``language`` (English if unknown).

    Call it in an app context (the worker's, or a request's): the words come
    from the app's catalogue.
    """
    return WRITERS[supported(language) or DEFAULT_LANGUAGE](notice)


# ------------------------------------------------------------------ the batches


@dataclass(frozen=True)
class BatchResult:
    """What one batch did: messages queued, customers without an address, any left."""

    mailed: int
    unreachable: int
    more: bool

    @property
    def handled(self) -> int:
        """Customers taken out of the selection by this batch."""
        return self.mailed + self.unreachable


def notice_batch(session: Session, scope: NoticeScope, *, size: int, send: Send,
                 actor: Actor = NOTICE_ACTOR, now: dt.datetime | None = None) -> BatchResult:
    """Mail the next ``size`` affected customers not told yet of ``scope``'s version. Flushes.

    Each customer gets one message listing the changed purposes that concern
    them, in their language, and a ``policy_notices`` row in the same unit of
    work; the batch writes one audit entry (version, counts, purposes: no
    personal data). The caller commits.
    """
    now = now or utcnow()
    ids = list(session.scalars(_selection(scope).order_by(_CUSTOMER.id).limit(size + 1)))
    more, ids = len(ids) > size, ids[:size]
    if not ids:
        return BatchResult(0, 0, False)
    states = session.execute(
        sa.select(_STATE.customer_id, _STATE.purpose, _STATE.status)
        .where(_STATE.customer_id.in_(ids),
               _STATE.purpose.in_([p.slug for p in scope.purposes]))).all()
    status = {(row.customer_id, row.purpose): row.status for row in states}
    links = of_session(session).links
    # The same link in every language: the comparison page is shown in the reader's
    # language (their browser's, or the one they chose on the site).
    compare_url = links.policy_compare(scope.previous.version, scope.version.version)
    worded = _Wording(scope)
    mailed = unreachable = 0
    told: dict[str, int] = {}
    for customer in session.scalars(sa.select(Customer).where(Customer.id.in_(ids))
                                    .order_by(Customer.id)):
        concern = tuple(p for p in scope.purposes if _concerns(p, status.get((customer.id, p.slug))))
        address = customer.email
        if address and concern:
            language = language_of(customer.preferences)
            summary, titled = worded.in_language(language, concern)
            subject, body = notice_message(language, NoticeContent(
                scope.version.version, summary, scope.version.effective_date,
                titled, compare_url, links.home()))
            # A legal notice, not marketing: no List-Unsubscribe (RFC 8058 is for bulk
            # marketing mail; a customer cannot opt out of being told of a change).
            # Queued in the customer's language, so the message is marked as written in it.
            with in_language(language):
                send(address, subject, body)
            mailed += 1
            for purpose in concern:
                told[purpose.slug] = told.get(purpose.slug, 0) + 1
        else:
            unreachable += 1
        session.add(PolicyNotice(policy_version_id=scope.version.id, customer_id=customer.id,
                                 mailed=bool(address and concern), notified_at=now))
    session.flush()
    audit.record(actions.POLICY_NOTICE_BATCH, actor=actor,
                 details={"version": scope.version.version, "mailed": mailed,
                          "unreachable": unreachable,
                          # "slug:count ...": how many were told of each purpose (short text).
                          "purposes": " ".join(f"{slug}:{n}" for slug, n in told.items())})
    session.flush()
    log.info("policy notice %s: %d queued, %d unreachable", scope.version.version, mailed,
             unreachable)
    return BatchResult(mailed, unreachable, more)


class _Wording:
    """The version's summary and purpose titles as its text in each language words them.

    English (the version itself) when it was not published in that language.
    Each language's document is read once per batch.
    """

    def __init__(self, scope: NoticeScope) -> None:
        self._version = scope.version
        self._documents: dict[str, PolicyDocument | None] = {}

    def in_language(self, language: str, purposes: tuple[ChangedPurpose, ...]
                    ) -> tuple[str, tuple[ChangedPurpose, ...]]:
        """The summary, and ``purposes`` with their titles, as the text in ``language`` says."""
        if language not in self._documents:
            document = document_of(self._version, language)
            self._documents[language] = document if document.language == language else None
        document = self._documents[language]
        if document is None:
            return self._version.summary, purposes
        return document.summary, tuple(
            replace(p, title=shown.title) if (shown := document.purpose(p.slug)) else p
            for p in purposes)


def _concerns(purpose: ChangedPurpose, status: ConsentStatus | None) -> bool:
    if purpose.by_consent:
        return status == ConsentStatus.GIVEN
    return status != ConsentStatus.OBJECTED


def batch_size(rate: int) -> int:
    """Customers per batch at ``rate`` messages a minute: a minute's worth, at most MAX_BATCH."""
    return max(1, min(MAX_BATCH, rate))


def pause_after(handled: int, rate: int) -> dt.timedelta:
    """How long to wait after a batch of ``handled`` messages to keep to ``rate`` a minute."""
    return dt.timedelta(minutes=handled / max(rate, 1))


def told_count(session: Session, version: PolicyVersion) -> int:
    """How many customers were mailed the notice of ``version``."""
    return int(session.scalar(sa.select(sa.func.count()).select_from(PolicyNotice).where(
        PolicyNotice.policy_version_id == version.id, PolicyNotice.mailed.is_(True))) or 0)


# ------------------------------------------------------------------ the job


def enqueue_notices(session: Session, versions: Iterable[PolicyVersion], *,
                    now: dt.datetime) -> list[PolicyVersion]:
    """Enqueue the notice job of each newly published version that needs one; flushes.

    The payload is the version's id only. ``flask policies publish`` calls
    this in the publication's unit of work: a publication rolled back
    leaves no job. Returns the versions whose notice was enqueued.
    """
    queued = [v for v in versions if needs_notice(v, today=now.date())]
    for version in queued:
        enqueue(session, NOTICE_JOB, {"version": version.id}, now=now)
    return queued


def run_notice_job(session: Session, payload: Mapping[str, Any], *, rate: int, send: Send,
                   now: dt.datetime | None = None) -> BatchResult:
    """The job ``policies.notify-change``: one batch, then the next job after a pause. Flushes.

    Runs in the job's unit of work, so the batch, the job's "done" mark and
    the next job commit together. A version that took effect meanwhile (or
    needs no notice) ends the run: a notice after the fact is no notice.
    """
    now = now or utcnow()
    version_id = payload.get("version")
    if not isinstance(version_id, int) or isinstance(version_id, bool):
        raise TypeError("a policy notice job without a version id")
    version = session.get(PolicyVersion, version_id)
    if version is None:
        raise PolicyNotFound()
    try:
        scope = notice_scope(version, today=now.date())
    except NoNoticeNeeded:
        log.info("policy notice %s: not needed (any more); run ended", version.version)
        return BatchResult(0, 0, False)
    result = notice_batch(session, scope, size=batch_size(rate), send=send, now=now)
    if result.more:
        enqueue(session, NOTICE_JOB, {"version": version.id}, now=now,
                delay=pause_after(result.handled, rate))
    return result


# ------------------------------------------------------------------ the portal's banner


@dataclass(frozen=True)
class PendingChange:
    """A published version, still to take effect, that changes something material."""

    version: PolicyVersion
    previous: PolicyVersion
    purposes: tuple[ChangedPurpose, ...]
    summary: str  # the version's summary of changes, worded in the language asked for

    @property
    def effective_date(self) -> dt.date:
        """The day the change takes effect."""
        return self.version.effective_date


def pending_change(session: Session, *, today: dt.date | None = None,
                   language: str | None = None) -> PendingChange | None:
    """The next published version after ``today`` with a material change, or None.

    Its summary and purpose titles as its text in ``language`` words them
    (English when it was not published in that language).
    """
    today = today or utcnow().date()
    upcoming = session.scalars(sa.select(PolicyVersion)
                               .where(PolicyVersion.effective_date > today)
                               .order_by(PolicyVersion.effective_date))
    for version in upcoming:
        try:
            scope = notice_scope(version, today=today)
        except NoNoticeNeeded:
            continue
        summary, purposes = _Wording(scope).in_language(language or DEFAULT_LANGUAGE,
                                                        scope.purposes)
        return PendingChange(scope.version, scope.previous, purposes, summary)
    return None


__all__ = [
    "DEFAULT_RATE", "MAX_BATCH", "NOTICE_ACTOR", "NOTICE_JOB", "WRITERS", "BatchResult",
    "ChangedPurpose", "NoNoticeNeeded", "NoticeContent", "NoticeCounts", "NoticeScope",
    "PendingChange", "batch_size", "changed_purposes", "count_affected",
    "enqueue_notices", "needs_notice", "notice_batch", "notice_message", "notice_scope",
    "pause_after", "pending_change", "run_notice_job", "told_count",
]
