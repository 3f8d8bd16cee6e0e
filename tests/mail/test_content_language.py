"""Each message says the language it is written in (Content-Language, RFC 3282), sealed with it.

The marketing mail (the renewal reminder) in German keeps its one-click
unsubscribe headers exactly as RFC 8058 wants them; at a real SMTP server
on loopback, through the sealed outbox and the real worker.
"""

from __future__ import annotations

import datetime as dt
import uuid
from email.header import decode_header, make_header

import pytest
from babel.dates import format_date

from consentmgr.config import SmtpSettings
from consentmgr.consent import services as consent
from consentmgr.consent.expiry import send_renewal_reminders
from consentmgr.crypto import generate_keyring
from consentmgr.i18n import in_language
from consentmgr.mail import queued_mail, send_mail_after_commit
from consentmgr.mail.sealing import Letter, seal, unseal
from consentmgr.mail.smtp import compose
from consentmgr.policies.services import publish_policies
from consentmgr.sql import utcnow
from tests.conftest import TEST_ACTOR
from tests.consent.expiring import EXPIRING, TERM, write_expiring_policy
from tests.fixtures.smtp import deliver_mail

SMTP = SmtpSettings(host=None, sender="privacy@northwind.example")


def test_a_composed_message_names_its_language_and_an_unnamed_one_names_none():
    german = compose(SMTP, "ada@example.org", "Betreff", "Text\n", language="de")
    plain = compose(SMTP, "ada@example.org", "Subject", "Text\n")

    assert german["Content-Language"] == "de" and german.get_content() == "Text\n"
    assert plain["Content-Language"] is None


def test_the_language_is_sealed_with_the_letter():
    keys, row = generate_keyring("m1"), uuid.uuid4()
    letter = Letter(to="ada@example.org", subject="Betreff", body="Text\n", deliver=True,
                    language="de")

    assert unseal(keys, row, seal(keys, row, letter)).language == "de"


def test_a_message_queued_while_writing_in_a_language_is_marked_with_it(db):
    with in_language("de"):
        send_mail_after_commit("ada@example.org", "Betreff", "Text\n")
    send_mail_after_commit("bob@example.org", "Subject", "Text\n")

    assert [(letter.to, letter.language) for letter in queued_mail()] == [
        ("ada@example.org", "de"), ("bob@example.org", "en")]


# ------------------------------------------------------------------ at a real SMTP server


@pytest.fixture
def reminded(db, tmp_path, create_customer):
    """``reminded(language)``: a customer preferring ``language`` whose marketing consent ends
    in ten days, and the reminders queued and committed."""
    publish_policies(write_expiring_policy(tmp_path / "policies"), actor=TEST_ACTOR)
    db.session.commit()

    def customers(*languages: str):
        made = [create_customer(preferences={"language": language}) for language in languages]
        for customer in made:
            consent.grant_consent(customer, EXPIRING, actor=TEST_ACTOR, channel="api",
                                  collected_at=utcnow() - TERM + dt.timedelta(days=10))
        db.session.commit()
        send_renewal_reminders(db.session, now=utcnow(), notice=dt.timedelta(days=30),
                               send=send_mail_after_commit)
        db.session.commit()
        return made

    return customers


def test_a_german_customer_gets_the_renewal_reminder_in_german_with_rfc_8058_headers(
        app, db, inbox, reminded):
    german, french = reminded("de", "fr")

    deliver_mail(app)

    (message,) = inbox.to(german.email)
    assert str(make_header(decode_header(message["Subject"]))) == "Ihre Einwilligung läuft bald ab"
    assert message["Content-Language"] == "de"
    body = message.get_payload(decode=True).decode()
    ends = format_date(utcnow() + dt.timedelta(days=10), "d. MMMM yyyy", locale="de")
    assert f"Ihre Einwilligung zu „Newsletter“ endet am {ends}." in body
    assert "Diese Einwilligung jetzt mit einem Klick widerrufen: http" in body
    # RFC 8058 as for English: the bare <https URL> (no encoded words) and the one-click POST.
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    header = message["List-Unsubscribe"]
    assert header.startswith("<http://127.0.0.1:5000/unsubscribe/") and header.endswith(">")
    assert header[1:-1] in body
    (english,) = inbox.to(french.email)  # a language we do not write in: English
    assert english["Subject"] == "Your consent is about to end"
    assert english["Content-Language"] == "en" and english["List-Unsubscribe"]
