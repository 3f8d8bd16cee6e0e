"""Mail goes through a real SMTP server (aiosmtpd on loopback)."""

from __future__ import annotations

import threading
import time

import pytest
from aiosmtpd.controller import Controller

from consentmgr import create_app
from consentmgr.mail import MailError, send_mail
from consentmgr.runtime import runtime
from tests.conftest import base_config
from tests.fixtures.smtp import Inbox, free_port


def test_message_is_delivered_over_smtp(smtp_server, tmp_path):
    controller, inbox = smtp_server
    app = create_app(base_config(f"sqlite:///{tmp_path / 'm.db'}", str(tmp_path),
                                 CONSENTMGR_SMTP_HOST="127.0.0.1",
                                 CONSENTMGR_SMTP_PORT=str(controller.port),
                                 CONSENTMGR_SMTP_FROM="privacy@northwind.example"))
    send_mail("ada@example.org", "Your sign-in link", "Open https://example.org/x",
              smtp=runtime(app).settings.smtp)
    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert message["To"] == "ada@example.org" and message["From"] == "privacy@northwind.example"
    assert "https://example.org/x" in message.get_payload()


def test_unreachable_server_is_a_clear_error_without_the_recipient_in_the_log(tmp_path, caplog):
    app = create_app(base_config(f"sqlite:///{tmp_path / 'm.db'}", str(tmp_path),
                                 CONSENTMGR_SMTP_HOST="127.0.0.1",
                                 CONSENTMGR_SMTP_PORT=str(free_port())))
    with pytest.raises(MailError, match="could not be sent"):
        send_mail("ada@example.org", "subject", "body", smtp=runtime(app).settings.smtp)
    assert caplog.records and "ada@example.org" not in caplog.text


def test_without_smtp_the_message_is_printed_not_logged(tmp_path, capsys, caplog):
    app = create_app(base_config(f"sqlite:///{tmp_path / 'm.db'}", str(tmp_path)))
    send_mail("ada@example.org", "Your link", "https://example.org/x",
              smtp=runtime(app).settings.smtp)
    assert "https://example.org/x" in capsys.readouterr().out
    assert "ada@example.org" not in caplog.text


def test_console_mail_keeps_long_links_on_one_line(tmp_path, capsys):
    app = create_app(base_config(f"sqlite:///{tmp_path / 'm.db'}", str(tmp_path)))
    link = "http://127.0.0.1:5000/portal/sign-in/" + "x" * 120
    send_mail("ada@example.org", "Your link", f"Open {link}\n", smtp=runtime(app).settings.smtp)
    assert link in capsys.readouterr().out


# ------------------------------------------------ queued on the unit of work


@pytest.fixture
def mail_to(app, monkeypatch):
    """``mail_to(port)``: the shared app mails to an SMTP server on that loopback port."""
    import dataclasses

    from consentmgr.config import SmtpSettings

    from consentmgr.extensions import db
    from consentmgr.runtime import bind_session

    def point(port: int) -> None:
        state = runtime(app)
        settings = dataclasses.replace(state.settings,
                                       smtp=SmtpSettings(host="127.0.0.1", port=port))
        pointed = dataclasses.replace(state, settings=settings)
        monkeypatch.setitem(app.extensions, "consentmgr", pointed)
        # Queued mail takes its settings from the session's app (see consentmgr.mail).
        bind_session(db.session(), pointed)

    return point


def test_a_queued_message_goes_after_the_commit_and_not_before(smtp_server, mail_to, db):
    from consentmgr.mail import send_mail_after_commit, wait_for_mail

    controller, inbox = smtp_server
    mail_to(controller.port)
    send_mail_after_commit("ada@example.org", "Your sign-in link", "Open https://example.org/x")
    assert wait_for_mail() and inbox.messages == []  # not before the commit
    db.session.commit()
    assert wait_for_mail()
    assert [m["To"] for m in inbox.messages] == ["ada@example.org"]


def test_a_rolled_back_unit_of_work_sends_nothing_and_a_savepoint_does_not_send_early(
        smtp_server, mail_to, db):
    from consentmgr.mail import send_mail_after_commit, wait_for_mail

    controller, inbox = smtp_server
    mail_to(controller.port)
    send_mail_after_commit("ada@example.org", "dropped", "body")
    db.session.rollback()
    db.session.commit()
    assert wait_for_mail() and inbox.messages == []

    send_mail_after_commit("bob@example.org", "kept", "body")
    with db.session.begin_nested():
        pass  # releasing a savepoint commits nothing yet
    assert wait_for_mail() and inbox.messages == []
    db.session.commit()
    assert wait_for_mail()
    assert [m["Subject"] for m in inbox.messages] == ["kept"]


class BlockingInbox(Inbox):
    """Holds every message until the test releases it."""

    def __init__(self):
        super().__init__()
        self.received = threading.Event()
        self.release = threading.Event()

    def handle_message(self, message):
        self.received.set()
        self.release.wait(30)
        super().handle_message(message)


def test_the_sign_in_answer_does_not_wait_for_the_mail_server(mail_to, client, create_customer):
    """A known address must not answer slower than an unknown one (who is a customer?)."""
    from consentmgr.mail import wait_for_mail
    from tests.web.portal.conftest import post_form

    inbox = BlockingInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        mail_to(controller.port)
        customer = create_customer()
        started = time.monotonic()
        known = post_form(client, "/portal/sign-in", data={"email": customer.email})
        answered_in = time.monotonic() - started
        unknown = post_form(client, "/portal/sign-in", data={"email": "nobody@example.org"})

        # Answered while the mail server still holds the message: delivery in
        # the request would have blocked it (the SMTP timeout is 10 s).
        assert known.status_code == unknown.status_code == 302
        assert known.headers["Location"] == unknown.headers["Location"]
        assert inbox.received.wait(10) and inbox.messages == []
        assert answered_in < 5
        inbox.release.set()
        assert wait_for_mail()
        assert [m["To"] for m in inbox.messages] == [customer.email]
    finally:
        inbox.release.set()
        controller.stop()


def test_a_mail_server_that_is_down_is_logged_without_the_recipient(
        mail_to, client, create_customer, caplog):
    from consentmgr.mail import wait_for_mail
    from tests.web.portal.conftest import post_form

    mail_to(free_port())  # nothing listens there
    customer = create_customer()
    known = post_form(client, "/portal/sign-in", data={"email": customer.email})
    unknown = post_form(client, "/portal/sign-in", data={"email": "nobody@example.org"})
    assert wait_for_mail()

    assert known.status_code == unknown.status_code == 302 and known.data == unknown.data
    assert "mail to the SMTP server 127.0.0.1" in caplog.text
    assert customer.email not in caplog.text
