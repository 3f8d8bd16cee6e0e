"""The outbox: mail queued in the caller's transaction and delivered by ``flask worker``.

:func:`send_mail_after_commit` writes the sealed message and the job that
delivers it in the caller's unit of work, so they commit or roll back with
the change that caused them: a rolled-back request leaves no mail, and a
mailed link always exists. The request never waits for the mail server,
and no thread of the web process holds mail that a crash or a redeploy
would lose. A sign-in request for a known address therefore answers as
fast as one for an unknown address: the timing does not tell who is a
customer.

A worker runs the job (:func:`deliver_queued`): it opens the message, holds
the SMTP conversation and deletes the row, in one unit of work with the
job's "done" mark. The jobs queue gives the rest: workers never claim one
job twice (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), a killed worker's
lease runs out and the job is claimed again, a failure is retried with
backoff and then fails for good, logged by its type and the server, never
the recipient. :func:`purge_undeliverable` then deletes the sealed message.

With ``deliver=False`` the message is composed, sealed and queued all the
same, and the worker rehearses the SMTP conversation without naming a
recipient: a request that must mail nobody writes the same rows, and its
worker does the same work, as one that mails someone.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from consentmgr.config import SmtpSettings
from consentmgr.extensions import db
from consentmgr.i18n import current_language
from consentmgr.jobs.models import Job
from consentmgr.jobs.queue import enqueue
from consentmgr.mail.models import OutboxMessage
from consentmgr.mail.sealing import Letter, Sealed, seal, unseal
from consentmgr.mail.smtp import compose, deliver
from consentmgr.runtime import of_session
from consentmgr.sql import as_uuid, utcnow

# The job kind a worker delivers a queued message under, and the schedule that
# deletes messages whose delivery failed for good.
DELIVERY_JOB = "mail.deliver"
PURGE_SCHEDULE = "mail.purge-undeliverable"
PURGE_EVERY = dt.timedelta(hours=1)
# With the worker's default 30 s retry base, doubling: tries over about an hour,
# then the job fails (a sign-in link is dead by then; a notice is not mailed twice).
MAX_ATTEMPTS = 8

_TABLE = OutboxMessage.__table__


def send_mail_after_commit(to: str, subject: str, body: str, *, deliver: bool = True,
                           headers: Mapping[str, str] | None = None,
                           language: str | None = None) -> None:
    """Queue a plain-text message in the current unit of work; a worker sends it after the commit.

    ``deliver=False`` queues it the same way but the worker never sends it
    (see :func:`consentmgr.mail.smtp.deliver`, ``rehearse``). ``headers``
    are extra header fields, sealed with the message: marketing mail passes
    ``List-Unsubscribe`` and ``List-Unsubscribe-Post`` (RFC 8058); mail a
    customer must get whatever their consent (sign-in links, request
    notices) passes none. ``language`` is the language the message is
    written in, sent as ``Content-Language`` (RFC 3282); by default the one
    being written in now, which inside :func:`consentmgr.i18n.in_language`
    is the customer's. Flushes.
    """
    session = db.session()
    now = utcnow()
    message_id = uuid.uuid4()
    job = enqueue(session, DELIVERY_JOB, {"message": message_id}, now=now,
                  max_attempts=MAX_ATTEMPTS)
    sealed = seal(of_session(session).master_keys, message_id,
                  Letter(to=to, subject=subject, body=body, deliver=deliver,
                         headers=dict(headers or {}), language=language or current_language()))
    session.add(OutboxMessage(id=message_id, job_id=job.id, created_at=now,
                              master_key_id=sealed.master_key_id, wrapped_key=sealed.wrapped_key,
                              sealed=sealed.sealed))
    session.flush()


def deliver_queued(session: Session, payload: Mapping[str, Any], *, smtp: SmtpSettings) -> None:
    """The delivery job: send the queued message (or rehearse it) and delete it. Flushes.

    Raises :class:`consentmgr.mail.smtp.MailError` when the server cannot be
    reached, so the job is retried. On PostgreSQL the row stays locked
    while the message goes out: a second worker that claimed the job after
    a lease ran out waits, then finds it gone instead of sending it again.
    """
    message_id = as_uuid(payload.get("message"))
    if message_id is None:
        raise ValueError("a mail delivery job without a message id")
    row = session.execute(sa.select(_TABLE).where(_TABLE.c.id == message_id)
                          .with_for_update()).first()
    if row is None:
        return  # delivered already, by a worker whose lease ran out, or purged
    letter = unseal(of_session(session).master_keys, message_id,
                    Sealed(row.master_key_id, row.wrapped_key, row.sealed))
    deliver(smtp, compose(smtp, letter.to, letter.subject, letter.body, letter.headers,
                          language=letter.language),
            rehearse=not letter.deliver)
    session.execute(sa.delete(_TABLE).where(_TABLE.c.id == message_id),
                    execution_options={"synchronize_session": False})


def purge_undeliverable(session: Session) -> int:
    """Delete queued messages no open job will deliver (theirs failed for good); returns how many.

    The failed job stays (``jobs.purge-settled`` keeps it a month, with its
    error type); the sealed address and link go now.
    """
    open_job = sa.exists().where(Job.id == _TABLE.c.job_id, Job.finished_at.is_(None),
                                 Job.failed_at.is_(None))
    result = session.execute(sa.delete(_TABLE).where(~open_job),
                             execution_options={"synchronize_session": False})
    return int(result.rowcount or 0)


@dataclass(frozen=True)
class MailCounts:
    """Mail delivery jobs by state: queued or being retried, and failed for good."""

    waiting: int
    failed: int


def count_mail(session: Session) -> MailCounts:
    """How many messages wait for delivery and how many failed (failed jobs are kept a month)."""
    mail = Job.kind == DELIVERY_JOB
    waiting = session.scalar(sa.select(sa.func.count()).select_from(Job).where(
        mail, Job.finished_at.is_(None), Job.failed_at.is_(None)))
    failed = session.scalar(sa.select(sa.func.count()).select_from(Job).where(
        mail, Job.failed_at.is_not(None)))
    return MailCounts(waiting=int(waiting or 0), failed=int(failed or 0))


def queued_mail(session: Session | None = None) -> list[Letter]:
    """Every message waiting in the outbox, opened, oldest first (for tests and inspection)."""
    session = session or db.session()
    keys = of_session(session).master_keys
    rows = session.execute(sa.select(_TABLE).order_by(_TABLE.c.created_at, _TABLE.c.id))
    return [unseal(keys, row.id, Sealed(row.master_key_id, row.wrapped_key, row.sealed))
            for row in rows]
