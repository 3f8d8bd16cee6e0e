"""Outgoing mail: queued in the database with the change that causes it, sent by the worker.

* :func:`send_mail_after_commit` queues a message in the current unit of
  work (:mod:`consentmgr.mail.outbox`); ``flask worker`` delivers it after
  the commit, and never one that was rolled back.
* :func:`send_mail` hands a message to the server now and raises
  :class:`MailError` if it cannot (:mod:`consentmgr.mail.smtp`).

Queued messages are sealed (:mod:`consentmgr.mail.sealing`): the outbox
table holds no readable address, subject or link.
"""

from consentmgr.mail.models import OutboxMessage
from consentmgr.mail.outbox import (
    DELIVERY_JOB,
    MAX_ATTEMPTS,
    PURGE_EVERY,
    PURGE_SCHEDULE,
    MailCounts,
    count_mail,
    deliver_queued,
    purge_undeliverable,
    queued_mail,
    send_mail_after_commit,
)
from consentmgr.mail.sealing import Letter
from consentmgr.mail.smtp import MailError, send_mail

__all__ = [
    "DELIVERY_JOB", "MAX_ATTEMPTS", "PURGE_EVERY", "PURGE_SCHEDULE", "Letter", "MailCounts",
    "MailError", "OutboxMessage", "count_mail", "deliver_queued", "purge_undeliverable",
    "queued_mail", "send_mail", "send_mail_after_commit",
]
