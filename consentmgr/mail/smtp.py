"""The SMTP conversation: hand one message to the mail server, or print it in development.

The console fallback (no ``CONSENTMGR_SMTP_HOST``) is for development only
(DESIGN.md): it writes to standard output, never to the application log,
because a message carries the recipient's address. Failures are logged
naming the server, never the recipient.
"""

from __future__ import annotations

import email.policy
import logging
import smtplib
import sys
from collections.abc import Mapping
from email.message import EmailMessage

from consentmgr.config import SmtpSettings

log = logging.getLogger(__name__)

SMTP_TIMEOUT_SECONDS = 10
# Extra headers the development console shows (the one-click unsubscribe link, RFC 8058,
# and the language the message is written in).
_SHOWN_EXTRA = ("Content-Language", "List-Unsubscribe", "List-Unsubscribe-Post")
# RFC 5322 §2.1.1 allows lines of up to 998 characters. At the default 78 a
# List-Unsubscribe link, one long word, is written as RFC 2047 encoded words,
# which mail platforms do not decode in that header (RFC 2369 wants the bare <URL>).
_LONG_LINES = email.policy.default.clone(max_line_length=998)


class MailError(RuntimeError):
    """The message could not be handed to the mail server."""


def compose(smtp: SmtpSettings, to: str, subject: str, body: str,
            headers: Mapping[str, str] | None = None, *,
            language: str | None = None) -> EmailMessage:
    """A plain-text message from our sender to one recipient, with any extra ``headers``.

    ``language`` (``"de"``) is sent as ``Content-Language`` (RFC 3282), so
    mail clients and screen readers know which language the text is in.
    """
    message = EmailMessage(policy=_LONG_LINES if headers else email.policy.default)
    message["From"] = smtp.sender
    message["To"] = to
    message["Subject"] = subject
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    if language:  # after set_content, which clears every Content-* field
        message["Content-Language"] = language
    return message


def send_mail(to: str, subject: str, body: str, *, smtp: SmtpSettings,
              language: str | None = None) -> None:
    """Send a plain-text message to one recipient, now, through ``smtp``; :class:`MailError` if not."""
    deliver(smtp, compose(smtp, to, subject, body, language=language))


def deliver(smtp: SmtpSettings, message: EmailMessage, *, rehearse: bool = False) -> None:
    """Hand ``message`` to the server; ``rehearse``: the same conversation, but no mail.

    A rehearsal is how an undeliverable message (``deliver=False``) is
    dropped: it connects, greets, authenticates and opens a transaction
    from our sender as a delivery would, then resets it without naming a
    recipient, so nothing is sent to anyone. The worker does about the work
    of a delivery, so a request that mails no one does not make the
    requests around it faster than one that mails a customer.
    """
    if smtp.host is None:
        if rehearse:
            return
        # Decoded body, not the wire form: quoted-printable would break long links.
        extra = "".join(f"{name}: {message[name]}\n" for name in _SHOWN_EXTRA if name in message)
        print(f"\n----- mail (CONSENTMGR_SMTP_HOST unset) -----\n"
              f"From: {message['From']}\nTo: {message['To']}\nSubject: {message['Subject']}\n"
              f"{extra}\n"
              f"{message.get_content()}----- end of mail -----\n", file=sys.stdout, flush=True)
        return
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=SMTP_TIMEOUT_SECONDS) as server:
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
