"""Sign-in and email-change mails in the reader's language (GDPR Art. 12(1))."""

from __future__ import annotations

import pytest

from consentmgr.customers import email_change, signin
from consentmgr.customers.signin import portal_actor
from consentmgr.mail import queued_mail
from consentmgr.unit_of_work import unit_of_work

GERMAN = {"language": "de"}


@pytest.fixture
def page_in(app):
    """``page_in(accept_language)``: a request context as from a page in that language."""
    def request(accept_language: str | None):
        headers = {"Accept-Language": accept_language} if accept_language else {}
        return app.test_request_context("/portal/sign-in", headers=headers)
    return request


def _ask_for_link(page, address: str) -> None:
    with page, unit_of_work():
        signin.request_sign_in_link(address)


def test_the_sign_in_link_is_written_in_the_language_of_the_page_it_was_asked_on(
        db, create_customer, page_in):
    customer = create_customer()

    _ask_for_link(page_in("de-DE,de;q=0.9,en;q=0.5"), customer.email)

    [letter] = queued_mail()
    assert letter.subject == "Ihr Anmeldelink für das Datenschutzportal"
    assert letter.body.startswith("Guten Tag,\n\nmit diesem Link melden Sie sich")
    assert "15 Minuten lang" in letter.body and "/portal/sign-in/" in letter.body
    assert letter.language == "de"


def test_a_german_customer_asking_on_an_english_page_gets_the_link_in_english(
        db, create_customer, page_in):
    # The page's language, not the stored one: an unknown address's decoy must be
    # written the same way, or its sealed size could tell who is a customer.
    customer = create_customer(preferences=GERMAN)

    _ask_for_link(page_in(None), customer.email)

    [letter] = queued_mail()
    assert letter.subject == "Your sign-in link for the privacy portal"
    assert letter.language == "en"


def test_an_unknown_address_on_a_german_page_queues_the_same_german_message_undelivered(
        db, create_customer, page_in):
    customer = create_customer()
    _ask_for_link(page_in("de"), customer.email)
    _ask_for_link(page_in("de"), "nobody-here@example.org")

    known, unknown = queued_mail()
    assert (known.subject, known.language) == (unknown.subject, unknown.language)
    assert (known.deliver, unknown.deliver) == (True, False)


def _ask_for_change(customer, address: str):
    with unit_of_work():
        return email_change.request_email_change(customer, address, actor=portal_actor(customer))


def test_a_german_customer_changing_their_address_is_written_to_in_german(db, create_customer):
    customer = create_customer(email="greta@example.org", preferences=GERMAN)

    link = _ask_for_change(customer, "greta.neu@example.org")
    with unit_of_work():
        email_change.confirm_email_change(link.token)

    letters = {(letter.to, letter.subject): letter for letter in queued_mail()}
    assert set(letters) == {
        ("greta.neu@example.org", "Bestätigen Sie Ihre neue E-Mail-Adresse für das Datenschutzportal"),
        ("greta@example.org", "Eine Änderung Ihrer E-Mail-Adresse wurde beantragt"),
        ("greta@example.org", "Ihre E-Mail-Adresse wurde geändert"),
    }
    confirm = letters[("greta.neu@example.org",
                       "Bestätigen Sie Ihre neue E-Mail-Adresse für das Datenschutzportal")]
    assert "innerhalb von 24 Stunden" in confirm.body and link.url in confirm.body
    assert {letter.language for letter in letters.values()} == {"de"}


def test_the_owner_of_an_address_already_in_use_is_warned_in_their_own_language(
        db, create_customer):
    german = create_customer(email="greta@example.org", preferences=GERMAN)
    create_customer(email="owner@example.org", preferences={"language": "fr"})

    _ask_for_change(german, "owner@example.org")

    subjects = {letter.to: (letter.subject, letter.language) for letter in queued_mail()}
    assert subjects == {
        "owner@example.org": ("Someone tried to use your email address", "en"),
        "greta@example.org": ("Eine Änderung Ihrer E-Mail-Adresse wurde beantragt", "de"),
    }
