"""Mail goes through a real SMTP server (aiosmtpd on loopback)."""

from __future__ import annotations

import socket

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message

from consentmgr import create_app
from consentmgr.mail import MailError, send_mail
from tests.conftest import base_config


class Inbox(Message):
    def __init__(self):
        super().__init__()
        self.messages = []

    def handle_message(self, message):
        self.messages.append(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


def test_message_is_delivered_over_smtp(smtp_server, tmp_path):
    controller, inbox = smtp_server
    app = create_app(base_config(f"sqlite:///{tmp_path / 'm.db'}", str(tmp_path),
                                 CONSENTMGR_SMTP_HOST="127.0.0.1",
                                 CONSENTMGR_SMTP_PORT=str(controller.port),
                                 CONSENTMGR_SMTP_FROM="privacy@northwind.example"))
    with app.app_context():
        send_mail("ada@example.org", "Your sign-in link", "Open https://example.org/x")
    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert message["To"] == "ada@example.org" and message["From"] == "privacy@northwind.example"
    assert "https://example.org/x" in message.get_payload()


def test_unreachable_server_is_a_clear_error_without_the_recipient_in_the_log(tmp_path, caplog):
    app = create_app(base_config(f"sqlite:///{tmp_path / 'm.db'}", str(tmp_path),
                                 CONSENTMGR_SMTP_HOST="127.0.0.1",
                                 CONSENTMGR_SMTP_PORT=str(free_port())))
    with app.app_context(), pytest.raises(MailError, match="could not be sent"):
        send_mail("ada@example.org", "subject", "body")
    assert caplog.records and "ada@example.org" not in caplog.text


def test_without_smtp_the_message_is_printed_not_logged(tmp_path, capsys, caplog):
    app = create_app(base_config(f"sqlite:///{tmp_path / 'm.db'}", str(tmp_path)))
    with app.app_context():
        send_mail("ada@example.org", "Your link", "https://example.org/x")
    assert "https://example.org/x" in capsys.readouterr().out
    assert "ada@example.org" not in caplog.text


def test_console_mail_keeps_long_links_on_one_line(tmp_path, capsys):
    app = create_app(base_config(f"sqlite:///{tmp_path / 'm.db'}", str(tmp_path)))
    link = "http://127.0.0.1:5000/portal/sign-in/" + "x" * 120
    with app.app_context():
        send_mail("ada@example.org", "Your link", f"Open {link}\n")
    assert link in capsys.readouterr().out
