"""The portal speaks the signed-in customer's stated language, and the switcher changes it."""

from __future__ import annotations

import html

import pytest
import sqlalchemy as sa

from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from consentmgr.customers.models import Customer
from consentmgr.customers.services import add_history
from consentmgr.web.language import COOKIE
from tests.conftest import TEST_ACTOR
from tests.web.portal.conftest import csrf_from, mail_link, post_form

GERMAN_BROWSER = {"Accept-Language": "de-DE,de;q=0.9"}
ENGLISH_BROWSER = {"Accept-Language": "en-GB,en;q=0.9"}


def stated_language(db, customer_id) -> str:
    db.session.expire_all()
    return db.session.get(Customer, customer_id).preferences["language"]


def rectifications(db) -> list[AuditEntry]:
    return list(db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == actions.CUSTOMER_RECTIFIED)))


def choose(client, language: str, next_page: str = "/portal/consents"):
    """Press the footer switcher's button for ``language`` on ``next_page``."""
    return post_form(client, next_page, "/portal/language",
                     {"language": language, "next": next_page})


@pytest.fixture
def german_customer(publish_policy_files, create_customer, sign_in):
    """A customer whose stated preference is German, signed in."""
    publish_policy_files()
    customer = create_customer(email="grete@example.org", name="Grete Weber",
                               preferences={"channels": ["email"], "language": "de",
                                            "topics": []})
    sign_in(customer)
    return customer


def test_the_stated_preference_beats_the_cookie_and_the_browser(client, german_customer):
    client.set_cookie(COOKIE, "en")

    page = client.get("/portal/", headers=ENGLISH_BROWSER).text

    assert '<html lang="de">' in page
    assert "<h1>Meine Daten</h1>" in page


def test_an_english_preference_beats_a_german_cookie_and_browser(client, signed_in):
    client.set_cookie(COOKIE, "de")

    page = client.get("/portal/consents", headers=GERMAN_BROWSER).text

    assert '<html lang="en">' in page
    assert "<h1>My consents</h1>" in page


def test_a_visitor_gets_the_cookie_language_on_the_sign_in_page(client, customer):
    client.set_cookie(COOKIE, "de")

    page = client.get("/portal/sign-in", headers=ENGLISH_BROWSER).text

    assert '<html lang="de">' in page
    assert 'href="/language/en?next=/portal/sign-in"' in page  # the public switcher: links


def test_signed_in_the_switcher_is_a_form_per_language(client, signed_in):
    page = client.get("/portal/details").text

    assert page.count('action="/portal/language"') == 2
    assert '<input type="hidden" name="language" value="de">' in page
    assert '<input type="hidden" name="next" value="/portal/details">' in page
    assert 'href="/language/de' not in page


def test_the_switcher_changes_the_stated_preference_and_the_page_language(client, db, signed_in):
    response = choose(client, "de")

    assert response.status_code == 303
    assert stated_language(db, signed_in.id) == "de"
    page = client.get(response.headers["Location"])  # the public switcher remembers it too
    assert page.headers["Location"] == "/portal/consents"
    assert client.get_cookie(COOKIE).value == "de"
    text = client.get("/portal/consents", headers=ENGLISH_BROWSER).text
    assert '<html lang="de">' in text and "<h1>Meine Einwilligungen</h1>" in text


def test_the_switcher_is_recorded_like_any_correction(client, db, signed_in):
    choose(client, "de")

    [entry] = rectifications(db)
    assert entry.fields == ["preferences"] and entry.actor_id == str(signed_in.id)


def test_the_switcher_keeps_the_other_preferences(client, db, signed_in):
    choose(client, "de")

    db.session.expire_all()
    preferences = db.session.get(Customer, signed_in.id).preferences
    assert preferences == {"channels": ["email"], "language": "de", "topics": ["garden"]}


def test_the_switcher_without_a_csrf_token_is_refused_and_changes_nothing(client, db, signed_in):
    response = client.post("/portal/language", data={"language": "de", "next": "/portal/"})

    assert response.status_code == 400
    assert b"nothing was changed" in response.data
    assert stated_language(db, signed_in.id) == "en"
    assert rectifications(db) == []


def test_the_switcher_is_not_a_get(client, signed_in):
    assert client.get("/portal/language?language=de").status_code == 405


@pytest.mark.parametrize("language", ["fr", "xx", "DE", ""])
def test_the_switcher_refuses_a_language_the_pages_do_not_speak(client, db, signed_in, language):
    response = choose(client, language)

    assert response.status_code == 302
    page = html.unescape(client.get(response.headers["Location"]).text)
    assert "We cannot show pages in that language. Choose one of: English, Deutsch." in page
    assert stated_language(db, signed_in.id) == "en"
    assert rectifications(db) == []
    assert client.get_cookie(COOKIE) is None


def test_the_switcher_needs_a_signed_in_customer(client, customer):
    token = csrf_from(client.get("/portal/sign-in").data)

    response = client.post("/portal/language", data={"csrf_token": token, "language": "de"})

    assert response.status_code == 302 and response.headers["Location"].endswith("/portal/sign-in")


def test_the_switcher_never_redirects_off_the_site(client, signed_in):
    response = post_form(client, "/portal/", "/portal/language",
                         {"language": "de", "next": "https://evil.example/"})

    assert client.get(response.headers["Location"]).headers["Location"] == "/"


def test_a_new_language_on_the_details_form_speaks_at_once(client, db, signed_in):
    token = csrf_from(client.get("/portal/details").data)
    response = client.post("/portal/details", data={
        "csrf_token": token, "name": "Ada Lovelace", "phone": "+44 20 7946 0958",
        "postal_address": "1 Example Street\r\nLondon", "date_of_birth": "1985-04-12",
        "channels": ["email"], "language": "de", "topics": "garden"})

    assert response.status_code == 302
    page = html.unescape(client.get(response.headers["Location"]).text)
    assert '<html lang="de">' in page
    assert "Gespeichert. Geändert: Kontaktpräferenzen." in page  # the message too


def test_german_dates_have_german_month_names(client, db, german_customer):
    add_history(german_customer, {"occurred_at": "2026-03-01T10:00:00Z", "channel": "phone",
                                  "kind": "support-contact", "data_category": "support-history",
                                  "summary": "Paket verspätet"}, actor=TEST_ACTOR)
    db.session.commit()

    page = client.get("/portal/").text

    assert "12. April 1985" in page and "1. März 2026, 10:00 UTC" in page
    assert "March" not in page


def test_signing_in_greets_in_the_stated_language(client, db, publish_policy_files,
                                                 create_customer):
    publish_policy_files()
    customer = create_customer(preferences={"channels": [], "language": "de", "topics": []})
    path = mail_link(db, customer.email)

    response = post_form(client, path, headers=ENGLISH_BROWSER)

    page = html.unescape(client.get(response.headers["Location"], headers=ENGLISH_BROWSER).text)
    assert "Sie sind angemeldet." in page and '<html lang="de">' in page


@pytest.mark.parametrize(("field", "value", "german"), [
    ("name", "   ", "Geben Sie einen Namen ein."),
    ("phone", "call me maybe", "Geben Sie eine Telefonnummer aus Ziffern"),
    ("date_of_birth", "12/04/1985", "Kein gültiges Datum."),
    ("topics", "x" * 41, "Die Länge muss zwischen 1 und 40 liegen."),
])
def test_the_schemas_messages_are_shown_in_the_page_language(client, german_customer, field,
                                                             value, german):
    page = client.get("/portal/details")
    data = {"csrf_token": csrf_from(page.data), "name": "Grete Weber", "phone": "+49 30 1234567",
            "postal_address": "", "date_of_birth": "1985-04-12", "channels": ["email"],
            "language": "de", "topics": "garten", field: value}

    response = client.post("/portal/details", data=data)

    assert response.status_code == 422
    assert german in html.unescape(response.text)
