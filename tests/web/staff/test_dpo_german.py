"""The DPO's screens speak German to a browser that asks for it, and English to one that does not.

Requests, a request, the dashboard (its charts and CSV too), the breach register and the
records of processing: headings, labels, statuses and the words the server draws into the
charts follow the page language (GDPR Art. 12(1): clear and plain language).
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re

import pytest

from consentmgr.consent import ledger
from consentmgr.consent.models import ConsentAction
from consentmgr.dashboard import aggregates as agg
from consentmgr.requests.services import file_request
from consentmgr.sql import utcnow
from tests.conftest import TEST_ACTOR
from tests.fixtures.audit import sequence_audit
from tests.fixtures.staff import create_staff_user, csrf_token, sign_in_as  # noqa: F401

GERMAN = {"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}


@pytest.fixture
def dpo(dpo, publish_policy_files):
    """The signed-in DPO (tests/fixtures/staff.py), with the shipped policies published."""
    publish_policy_files()
    return dpo


@pytest.fixture
def overdue_erasure(db, dpo, create_customer):
    """An erasure request received 35 days ago: past its one-month deadline."""
    req = file_request(create_customer(), "erasure", actor=TEST_ACTOR, channel="staff",
                       now=utcnow() - dt.timedelta(days=35))
    db.session.commit()
    return req


def _page(client, path: str, headers=None) -> str:
    response = client.get(path, headers=headers or {})
    assert response.status_code == 200
    return html.unescape(response.get_data(as_text=True))


def _lang(page: str) -> str:
    return re.search(r'<html[^>]*\blang="([a-z]+)"', page).group(1)


def _csv(client, path: str, headers=None) -> list[list[str]]:
    response = client.get(path, headers=headers or {})
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


# ------------------------------------------------------------------ requests


def test_the_request_queue_is_in_german_when_the_browser_asks(client, overdue_erasure):
    page = _page(client, "/staff/requests", GERMAN)

    assert _lang(page) == "de"
    assert "<h1>Anträge betroffener Personen</h1>" in page
    assert "Löschung (Art. 17)" in page and "Frist (UTC)" in page
    assert re.search(r"Seit \d+ Tagen überfällig", page)
    assert "Data-subject requests" not in page and "Overdue by" not in page


def test_the_request_queue_stays_english_without_accept_language(client, overdue_erasure):
    page = _page(client, "/staff/requests")

    assert _lang(page) == "en"
    assert "<h1>Data-subject requests</h1>" in page and "Erasure (Art. 17)" in page
    assert re.search(r"Overdue by \d+ days", page)


def test_a_request_page_is_in_german(client, overdue_erasure):
    page = _page(client, f"/staff/requests/{overdue_erasure.id}", GERMAN)

    assert _lang(page) == "de"
    assert "<h1>Antrag: Löschung (Art. 17)</h1>" in page
    assert "Genehmigen und löschen" in page and "Frist verlängern" in page
    assert "Approve and erase" not in page
    english = _page(client, f"/staff/requests/{overdue_erasure.id}")
    assert "<h1>Erasure (Art. 17) request</h1>" in english and "Approve and erase" in english


def test_a_message_after_an_action_is_in_the_page_language(client, overdue_erasure):
    response = client.post(f"/staff/requests/{overdue_erasure.id}/lift-restriction",
                           headers=GERMAN, data={"csrf_token": csrf_token(client)})
    assert response.status_code == 302

    page = _page(client, response.location, GERMAN)
    assert "Dieser Datensatz war nicht eingeschränkt." in page


def test_a_refused_form_names_its_error_in_german(client, overdue_erasure):
    response = client.post(f"/staff/requests/{overdue_erasure.id}/extend", headers=GERMAN,
                           data={"csrf_token": csrf_token(client), "extend-months": "drei",
                                 "extend-reason": "Drei Systeme"})

    assert response.status_code == 422
    page = html.unescape(response.get_data(as_text=True))
    assert "Fehler:" in page and "Geben Sie 1 oder 2 ein." in page


# ------------------------------------------------------------------ dashboard


@pytest.fixture
def history(db, dpo, create_customer):
    today = utcnow()
    for days_ago, action in ((13, ConsentAction.GRANTED), (6, ConsentAction.WITHDRAWN)):
        ledger.record_choice(create_customer(), "personalisation", action, actor=TEST_ACTOR,
                             channel="import", collected_at=today - dt.timedelta(days=days_ago))
    sequence_audit(db)
    agg.refresh(db.session, now=today)
    db.session.commit()


def test_the_dashboard_and_its_charts_are_in_german(client, history):
    page = _page(client, "/staff/dashboard?weeks=4", GERMAN)

    assert _lang(page) == "de"
    assert "<h1>Datenschutz-Dashboard</h1>" in page
    assert "Widerrufe von Einwilligungen pro Woche, nach Zweck" in page  # a chart's title
    assert "Woche ab" in page  # the bars' own titles, drawn by the server
    assert "Week from" not in page and "Data table" not in page


def test_a_chart_csv_has_german_headings_for_a_german_page(client, history):
    german = _csv(client, "/staff/dashboard/withdrawals.csv?weeks=4", GERMAN)
    english = _csv(client, "/staff/dashboard/withdrawals.csv?weeks=4")

    assert german[0][0] == "Woche ab" and german[0][-1] == "Summe"
    assert english[0][0] == "Week from" and english[0][-1] == "Total"
    assert [row[1:] for row in german[1:]] == [row[1:] for row in english[1:]]


def test_week_labels_use_german_month_names(client, history):
    page = _page(client, "/staff/dashboard?weeks=52", GERMAN)
    months = set(re.findall(r'text-anchor="middle" fill="#222">\d\d\.? ([A-Za-zä]+)', page))

    assert months and not months & {"Mar", "May", "Oct", "Dec"}


# ------------------------------------------------------------------ breaches


def test_the_breach_register_is_in_german(client, dpo):
    discovered = (utcnow() - dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    response = client.post("/staff/breaches", headers=GERMAN, data={
        "csrf_token": csrf_token(client), "discovered_at": discovered,
        "description": "Mailserver falsch konfiguriert", "data_categories": "E-Mail-Adressen",
        "approx_people": "40", "consequences": "Spam", "measures": "Relay abgeschaltet"})
    assert response.status_code == 302

    breach = _page(client, response.location, GERMAN)
    assert "Die Datenpanne ist im Register erfasst." in breach  # the flashed message
    assert "Datenpanne entdeckt am" in breach and "Meldung an die Aufsichtsbehörde" in breach
    register = _page(client, "/staff/breaches", GERMAN)
    assert _lang(register) == "de" and "<h1>Register der Datenpannen</h1>" in register
    assert re.search(r"noch 69 Std\. 5\d Min\.", register)
    assert re.search(r"69 h 5\d min left", _page(client, "/staff/breaches"))


def test_the_services_answer_to_bad_input_shows_in_german(client, dpo):
    tomorrow = (utcnow() + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    form = {"csrf_token": csrf_token(client), "discovered_at": tomorrow, "description": "x",
            "data_categories": "x", "approx_people": "viele", "consequences": "x",
            "measures": "x"}

    german = client.post("/staff/breaches", headers=GERMAN, data=form)
    english = client.post("/staff/breaches", data=form)

    assert german.status_code == english.status_code == 422
    page = html.unescape(german.get_data(as_text=True))
    assert "Dieser Zeitpunkt darf nicht in der Zukunft liegen." in page
    assert "Geben Sie eine ganze Zahl von 0 bis 100.000.000 ein" in page
    assert "This cannot be in the future." in english.get_data(as_text=True)


# ------------------------------------------------------------------ records of processing


def test_the_records_of_processing_are_in_german(client, dpo):
    page = _page(client, "/staff/records-of-processing", GERMAN)

    assert _lang(page) == "de"
    assert "<h1>Verzeichnis von Verarbeitungstätigkeiten</h1>" in page
    assert "Berechtigte Interessen (Art. 6 Abs. 1 lit. f DSGVO)" in page
    assert "Schlüsselverwaltung" in page and "Key management" not in page
    english = _page(client, "/staff/records-of-processing")
    assert "<h1>Records of processing activities</h1>" in english and "Key management" in english


def test_the_records_csv_follows_the_page_language_and_the_json_keeps_its_keys(client, dpo):
    german = _csv(client, "/staff/records-of-processing.csv", GERMAN)
    english = _csv(client, "/staff/records-of-processing.csv")
    data = client.get("/staff/records-of-processing.json", headers=GERMAN).get_json()

    assert "Zweck" in german[0] and "Rechtsgrundlage" in german[0]
    assert "purpose" in english[0] and "legal_basis" in english[0]
    assert [row[3] for row in german[1:]] == [row[3] for row in english[1:]]  # the slugs
    assert {"purpose", "legal_basis", "legal_basis_text"} <= set(data["activities"][0])
