"""Outgoing mail: SMTP when configured, otherwise printed to the console.

Two ways to send:

* :func:`send_mail` hands one message to the server now and raises
  :class:`MailError` if it cannot; the caller passes the SMTP settings
  (a boundary: ``runtime().settings.smtp``).
* :func:`send_mail_after_commit` queues it on the current unit of work: it
  goes once the transaction commits (never for one rolled back, so a mailed
  link always exists), and with an SMTP server it is delivered by a
  background thread. The request that caused it does not wait for the mail
  server, so a sign-in request for a known address answers as fast as one
  for an unknown address: the timing does not tell who is a customer. The
  SMTP settings are those of the app the unit of work's session belongs to.
  With ``deliver=False`` the message is composed and queued all the same,
  and the courier drops it after rehearsing the SMTP conversation without
  naming a recipient: a request that must mail nobody does the same work,
  in the request and in the courier, as one that mails someone (measured
  in ``benchmarks/sign_in_timing.py``: a courier that skipped the server
  left known addresses ~1 ms slower, enough to sort them).

The console fallback is for development only (DESIGN.md): it writes to
standard output, never to the application log, because a message carries
the recipient's address. Failures are logged naming the server, never the
recipient.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import smtplib
import sys
import threading
from dataclasses import dataclass
from email.message import EmailMessage

from sqlalchemy import event
from sqlalchemy.orm import Session

from consentmgr.config import SmtpSettings
from consentmgr.extensions import db
from consentmgr.runtime import of_session

log = logging.getLogger(__name__)

_OUTBOX = "consentmgr.outbox"  # Session.info key: messages waiting for the commit


class MailError(RuntimeError):
    """The message could not be handed to the mail server."""


@dataclass(frozen=True)
class QueuedMail:
    """A message waiting for its unit of work to commit.

    ``deliver`` False: the courier rehearses its delivery and drops it
    unsent (it was queued only so that the work done does not tell whether
    anyone is mailed).
    """

    smtp: SmtpSettings
    message: EmailMessage
    deliver: bool = True


def send_mail(to: str, subject: str, body: str, *, smtp: SmtpSettings) -> None:
    """Send a plain-text message to one recipient, now, through ``smtp``."""
    _deliver(smtp, _compose(smtp, to, subject, body))


def send_mail_after_commit(to: str, subject: str, body: str, *, deliver: bool = True) -> None:
    """Send a plain-text message once the current unit of work commits (see module doc).

    ``deliver=False`` composes and queues the message but never sends it
    (see :func:`_deliver`, ``rehearse``).
    """
    session = db.session()
    smtp = of_session(session).settings.smtp
    if not session.in_transaction():
        session.begin()  # so that a rollback before any statement still drops it
    session.info.setdefault(_OUTBOX, []).append(
        QueuedMail(smtp, _compose(smtp, to, subject, body), deliver))


def queued_mail(session: Session | None = None) -> list[QueuedMail]:
    """The messages the current unit of work will hand over when it commits (a copy)."""
    return list((session or db.session()).info.get(_OUTBOX, ()))


def wait_for_mail(timeout: float = 10.0) -> bool:
    """Block until every message queued so far was handed over (or failed); False on timeout."""
    return _courier.wait(timeout)


def _compose(smtp: SmtpSettings, to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    return message


def _deliver(smtp: SmtpSettings, message: EmailMessage, *, rehearse: bool = False) -> None:
    """Hand ``message`` to the server; ``rehearse``: the same conversation, but no mail.

    A rehearsal is how an undeliverable message (``deliver=False``) is
    dropped: it connects, greets, authenticates and opens a transaction
    from our sender as a delivery would, then resets it without naming a
    recipient, so nothing is sent to anyone. The worker process does about
    the work of a delivery, so a request that mails no one does not make
    the requests around it faster than one that mails a customer.
    """
    if smtp.host is None:
        if rehearse:
            return
        # Decoded body, not the wire form: quoted-printable would break long links.
        print(f"\n----- mail (CONSENTMGR_SMTP_HOST unset) -----\n"
              f"From: {message['From']}\nTo: {message['To']}\nSubject: {message['Subject']}\n\n"
              f"{message.get_content()}----- end of mail -----\n", file=sys.stdout, flush=True)
        return
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=10) as server:
            if smtp.starttls:
                server.starttls()
            if smtp.username:
                server.login(smtp.username, smtp.password or "")
            if rehearse:
                message.as_bytes()  # what send_message serialises
                server.ehlo_or_helo_if_needed()
                server.mail(smtp.sender)
                server.noop()  # where a delivery names the recipient
                server.rset()  # where it sends the message: the transaction ends empty
            else:
                server.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        # Name the server, not the recipient.
        log.error("mail to the SMTP server %s:%s failed: %s", smtp.host, smtp.port, type(exc).__name__)
        raise MailError("The message could not be sent. Please try again later.") from None


class _Courier:
    """Delivers queued messages on one daemon thread per process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: queue.Queue[QueuedMail | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def submit(self, item: QueuedMail) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="consentmgr-mail",
                                                daemon=True)
                self._thread.start()
            self._queue.put(item)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                _deliver(item.smtp, item.message, rehearse=not item.deliver)
            except MailError:
                pass  # logged by _deliver, without the recipient
            except Exception as exc:  # noqa: BLE001 - the thread must outlive one bad message
                log.error("mail delivery failed: %s", type(exc).__name__)
            finally:
                self._queue.task_done()

    def wait(self, timeout: float) -> bool:
        """``Queue.join`` with a deadline: True once every queued message was handled."""
        pending = self._queue
        with pending.all_tasks_done:
            return pending.all_tasks_done.wait_for(lambda: not pending.unfinished_tasks, timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """At exit: let queued messages go out, for up to ``timeout`` seconds."""
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._queue.put(None)
            thread.join(timeout)

    def reset(self) -> None:
        """In a forked child: the parent's thread and queue are not ours."""
        self._lock = threading.Lock()
        self._queue = queue.Queue()
        self._thread = None


_courier = _Courier()
atexit.register(_courier.stop)
os.register_at_fork(after_in_child=_courier.reset)


@event.listens_for(Session, "after_commit")
def _send_outbox(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: the unit of work is not committed yet
    for item in session.info.pop(_OUTBOX, ()):
        if item.smtp.host is not None:
            _courier.submit(item)
        elif item.deliver:
            _deliver(item.smtp, item.message)  # the console: nothing to wait for


@event.listens_for(Session, "after_soft_rollback")
def _drop_outbox(session: Session, previous_transaction) -> None:
    if previous_transaction.parent is None:  # the unit of work, not a savepoint
        session.info.pop(_OUTBOX, None)
