"""The staff screens speak German to a browser that asks for it, and English to one that does not.

Staff pick the language with the footer switcher or their browser's
``Accept-Language`` (:mod:`consentmgr.web.language`); the test client sends
no ``Accept-Language`` unless told to, so it gets English.
"""

from __future__ import annotations

import html as html_lib

import pytest

from consentmgr.audit import actions
from consentmgr.audit.services import record
from consentmgr.web.language import COOKIE
from tests.conftest import TEST_ACTOR
from tests.fixtures.audit import sequence_audit
from tests.fixtures.staff import (  # noqa: F401
    create_staff_user,
    csrf_token,
    sign_in_as,
)

GERMAN = {"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}


def _page(client, path: str, *, german: bool) -> str:
    response = client.get(path, headers=GERMAN if german else {})
    assert response.status_code == 200, response.status_code
    return html_lib.unescape(response.get_data(as_text=True))


@pytest.fixture
def signed_in(client, create_staff_user):
    """``signed_in(role)``: the client carries a session of a new staff member with ``role``."""
    def sign_in(role: str):
        login = create_staff_user(role, password=None)
        sign_in_as(client, login)
        return login

    return sign_in


def test_the_sign_in_page_is_german_for_a_german_browser(client):
    page = _page(client, "/staff/sign-in", german=True)

    assert '<html lang="de">' in page
    assert "<h1>Anmeldung für Mitarbeitende</h1>" in page
    assert "E-Mail-Adresse" in page and "Passwort" in page


def test_the_sign_in_page_stays_english_without_accept_language(client):
    page = _page(client, "/staff/sign-in", german=False)

    assert '<html lang="en">' in page
    assert "<h1>Staff sign-in</h1>" in page and "Email address" in page


def test_the_language_cookie_from_the_switcher_overrides_the_browser(client):
    client.set_cookie(COOKIE, "de")

    page = _page(client, "/staff/sign-in", german=False)

    assert '<html lang="de">' in page and "Anmeldung für Mitarbeitende" in page


def test_a_failed_sign_in_is_explained_in_german(client, create_staff_user):
    login = create_staff_user("agent")

    response = client.post("/staff/sign-in", headers=GERMAN, data={
        "csrf_token": csrf_token(client), "email": login.email, "password": "wrong password"})

    page = html_lib.unescape(response.get_data(as_text=True))
    assert response.status_code == 422
    assert "Es gibt ein Problem" in page
    assert "passen zu keinem aktiven Mitarbeiterkonto" in page


def test_the_home_page_keeps_the_capital_of_a_german_role(client, signed_in):
    signed_in("dpo")

    german = _page(client, "/staff/", german=True)
    english = _page(client, "/staff/", german=False)

    assert "Sie sind angemeldet als Datenschutzbeauftragte(r)." in german
    assert "You are signed in as data protection officer." in english


def test_the_search_and_its_masked_result_are_german(client, signed_in, create_customer):
    signed_in("agent")
    customer = create_customer(email="ada.example@example.org")

    form = _page(client, "/staff/customers", german=True)
    found = client.post("/staff/customers", headers=GERMAN, data={
        "csrf_token": csrf_token(client), "query": "ada.example@example.org"})
    result = html_lib.unescape(found.get_data(as_text=True))

    assert '<html lang="de">' in form and "<h1>Kunden finden</h1>" in form
    assert "Ein Kunde gefunden. Die Angaben sind maskiert." in result
    assert "Status aktiv" in result and "Telefonnummer" in result
    assert str(customer.id) in result


def test_the_search_stays_english_without_accept_language(client, signed_in):
    signed_in("agent")

    page = _page(client, "/staff/customers", german=False)

    assert '<html lang="en">' in page and "<h1>Find a customer</h1>" in page


def test_a_customer_record_is_german(client, signed_in, create_customer):
    signed_in("agent")
    customer = create_customer()

    page = _page(client, f"/staff/customers/{customer.id}", german=True)

    assert '<html lang="de">' in page and "<h1>Kundendatensatz</h1>" in page
    assert "Status aktiv" in page
    # A German noun keeps its capital inside a sentence.
    assert "E-Mail-Adresse aufdecken" in page and "Geburtsdatum aufdecken" in page


def test_a_customer_record_stays_english_without_accept_language(client, signed_in,
                                                                 create_customer):
    signed_in("agent")
    customer = create_customer()

    page = _page(client, f"/staff/customers/{customer.id}", german=False)

    assert "<h1>Customer record</h1>" in page and "status active" in page
    assert "Reveal email address" in page


def test_the_reveal_form_offers_its_reasons_in_german(client, signed_in, create_customer):
    signed_in("agent")
    customer = create_customer()

    page = _page(client, f"/staff/customers/{customer.id}/reveal/phone", german=True)

    assert "<h1>Telefonnummer aufdecken</h1>" in page
    assert "Wählen Sie einen Grund" in page and "Betrugsermittlung" in page


def test_a_refused_reveal_is_explained_in_german(client, signed_in, create_customer):
    signed_in("agent")
    customer = create_customer()

    response = client.post(f"/staff/customers/{customer.id}/reveal/phone", headers=GERMAN,
                           data={"csrf_token": csrf_token(client), "reason_code": ""})

    page = html_lib.unescape(response.get_data(as_text=True))
    assert response.status_code == 422
    assert "Wählen Sie, warum Sie diesen Wert sehen müssen." in page


def test_the_audit_trail_is_german(client, db, signed_in):
    signed_in("dpo")
    record(actions.CUSTOMER_VIEW, actor=TEST_ACTOR, subject_id=None)
    sequence_audit(db)

    page = _page(client, "/staff/audit", german=True)

    assert '<html lang="de">' in page and "<h1>Prüfprotokoll</h1>" in page
    assert "Kette geprüft." in page and "Prüfprotokoll intakt:" in page
    assert "Einträge filtern" in page


def test_the_audit_trail_stays_english_without_accept_language(client, db, signed_in):
    signed_in("dpo")

    page = _page(client, "/staff/audit", german=False)

    assert "<h1>Audit trail</h1>" in page and "Chain verified." in page


@pytest.mark.parametrize(("path", "german", "english"), [
    ("/staff/admin/staff", "<h1>Mitarbeiterkonten</h1>", "<h1>Staff accounts</h1>"),
    ("/staff/admin/staff/new", "<h1>Mitarbeiterkonto anlegen</h1>",
     "<h1>Create a staff account</h1>"),
    ("/staff/admin/api-clients", "<h1>API-Clients</h1>", "<h1>API clients</h1>"),
    ("/staff/sessions", "<h1>Sitzungen</h1>", "<h1>Sessions</h1>"),
])
def test_the_admin_pages_are_german_and_stay_english_without_accept_language(
        client, signed_in, path, german, english):
    signed_in("admin")

    assert german in _page(client, path, german=True)
    assert english in _page(client, path, german=False)


def test_the_role_choice_is_german(client, signed_in):
    signed_in("admin")

    page = _page(client, "/staff/admin/staff/new", german=True)

    assert "Datenschutzbeauftragte(r)" in page and "Dienstliche E-Mail-Adresse" in page


def test_a_flash_message_is_german(client, signed_in):
    signed_in("agent")

    response = client.post("/staff/sign-out", headers=GERMAN,
                           data={"csrf_token": csrf_token(client)}, follow_redirects=True)

    assert "Sie sind abgemeldet." in html_lib.unescape(response.get_data(as_text=True))
