"""Mail goes through a real SMTP server (aiosmtpd on loopback), sent by the worker after the commit."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from consentmgr import create_app
from consentmgr.extensions import db
from consentmgr.mail import (
    MailCounts,
    MailError,
    OutboxMessage,
    count_mail,
    send_mail,
    send_mail_after_commit,
)
from consentmgr.runtime import runtime
from tests.conftest import base_config
from tests.fixtures.smtp import deliver_mail, free_port


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


# ------------------------------------------------ queued in the unit of work, sent by the worker


def _outbox_rows_seen_by_another_session(app) -> int:
    with app.app_context():
        try:
            return db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage))
        finally:
            db.session.remove()


def test_a_queued_message_goes_after_the_commit_and_not_before(smtp_server, mail_to, app, db):
    controller, inbox = smtp_server
    mail_to(controller.port)
    send_mail_after_commit("ada@example.org", "Your sign-in link", "Open https://example.org/x")
    assert _outbox_rows_seen_by_another_session(app) == 0  # the worker cannot see it yet
    db.session.commit()

    deliver_mail(app)

    assert [m["To"] for m in inbox.messages] == ["ada@example.org"]
    assert _outbox_rows_seen_by_another_session(app) == 0  # delivered, then deleted


def test_a_rolled_back_unit_of_work_sends_nothing_and_a_savepoint_does_not_send_early(
        smtp_server, mail_to, app, db):
    controller, inbox = smtp_server
    mail_to(controller.port)
    send_mail_after_commit("ada@example.org", "dropped", "body")
    db.session.rollback()
    db.session.commit()
    send_mail_after_commit("bob@example.org", "kept", "body")
    with db.session.begin_nested():
        pass  # releasing a savepoint commits nothing yet
    assert _outbox_rows_seen_by_another_session(app) == 0
    with pytest.raises(RuntimeError), db.session.begin_nested():
        send_mail_after_commit("eve@example.org", "rolled back with its savepoint", "body")
        raise RuntimeError
    db.session.commit()

    deliver_mail(app)

    assert [m["Subject"] for m in inbox.messages] == ["kept"]
    assert inbox.recipients == ["bob@example.org"]


def test_the_sign_in_answer_does_not_wait_for_the_mail_server(smtp_server, mail_to, app, client,
                                                               create_customer):
    """A known address must not answer slower than an unknown one (who is a customer?)."""
    from tests.web.portal.conftest import post_form

    controller, inbox = smtp_server
    mail_to(controller.port)
    customer = create_customer()
    known = post_form(client, "/portal/sign-in", data={"email": customer.email})
    unknown = post_form(client, "/portal/sign-in", data={"email": "nobody@example.org"})

    # Answered without a word to the mail server: the worker holds the conversations.
    assert known.status_code == unknown.status_code == 302
    assert known.headers["Location"] == unknown.headers["Location"]
    assert inbox.senders == []
    deliver_mail(app)
    assert [m["To"] for m in inbox.messages] == [customer.email]
    assert len(inbox.senders) == 2  # the unknown address's was rehearsed, naming no one


def test_a_mail_server_that_is_down_is_logged_without_the_recipient(
        mail_to, app, client, create_customer, caplog):
    from tests.web.portal.conftest import post_form

    mail_to(free_port())  # nothing listens there
    customer = create_customer()
    known = post_form(client, "/portal/sign-in", data={"email": customer.email})
    unknown = post_form(client, "/portal/sign-in", data={"email": "nobody@example.org"})
    deliver_mail(app)

    assert known.status_code == unknown.status_code == 302 and known.data == unknown.data
    assert "mail to the SMTP server 127.0.0.1" in caplog.text
    assert customer.email not in caplog.text and "nobody@example.org" not in caplog.text
    assert count_mail(db.session) == MailCounts(waiting=2, failed=0)  # both to be tried again
