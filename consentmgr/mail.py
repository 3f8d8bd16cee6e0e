"""Outgoing mail: SMTP when configured, otherwise printed to the console.

The console fallback is for development only (DESIGN.md): it writes to
standard output, never to the application log, because a message carries
the recipient's address.
"""

from __future__ import annotations

import logging
import smtplib
import sys
from email.message import EmailMessage

from flask import current_app

log = logging.getLogger(__name__)


class MailError(RuntimeError):
    """The message could not be handed to the mail server."""


def send_mail(to: str, subject: str, body: str) -> None:
    """Send a plain-text message to one recipient."""
    settings = current_app.extensions["consentmgr"].settings
    smtp = settings.smtp
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    if smtp.host is None:
        # Decoded body, not the wire form: quoted-printable would break long links.
        print(f"\n----- mail (CONSENTMGR_SMTP_HOST unset) -----\n"
              f"From: {message['From']}\nTo: {to}\nSubject: {subject}\n\n{message.get_content()}"
              "----- end of mail -----\n", file=sys.stdout, flush=True)
        return
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=10) as server:
            if smtp.starttls:
                server.starttls()
            if smtp.username:
                server.login(smtp.username, smtp.password or "")
            server.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        # Name the server, not the recipient.
        log.error("mail to the SMTP server %s:%s failed: %s", smtp.host, smtp.port, type(exc).__name__)
        raise MailError("The message could not be sent. Please try again later.") from None
