"""The public and error pages in German: chosen by the browser, worded by the catalogue."""

from __future__ import annotations

import psycopg
import sqlalchemy as sa
from flask import g

from consentmgr.web.errors import render_outage

GERMAN = {"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}


def test_the_home_page_speaks_german_to_a_german_browser(client):
    html = client.get("/", headers=GERMAN).get_data(as_text=True)

    assert '<html lang="de">' in html
    assert "Ihr Datenschutz bei Northwind" in html
    assert "Anmeldung für Mitarbeitende" in html


def test_a_missing_page_says_so_in_german_without_repeating_its_address(client):
    response = client.get("/kein/solcher/pfad", headers=GERMAN)
    html = response.get_data(as_text=True)

    assert response.status_code == 404
    assert '<html lang="de">' in html
    assert "<h1>Nicht gefunden</h1>" in html
    assert "Wir konnten diese Seite nicht finden." in html
    assert "solcher" not in html  # the switcher goes to the start page, not back here
    assert 'href="/language/en"' in html


def test_an_unknown_policy_version_is_explained_in_german(client):
    html = client.get("/privacy/1999-01", headers=GERMAN).get_data(as_text=True)

    assert "Es gibt keine veröffentlichte Fassung der Datenschutzerklärung" in html


def test_a_tampered_unsubscribe_link_is_explained_in_german(client):
    response = client.get("/unsubscribe/not-a-real-token", headers=GERMAN)
    html = response.get_data(as_text=True)

    assert response.status_code == 400
    assert "Dieser Abmeldelink ist ungültig" in html
    assert "not-a-real-token" not in html


def test_the_outage_page_speaks_the_browsers_language_when_the_customer_cannot_be_read(app):
    outage = sa.exc.OperationalError("SELECT 1", {}, psycopg.OperationalError("server closed"))

    class CustomerWhoseRecordIsUnreachable:
        @property
        def preferences(self):
            raise outage  # their stated language is in the database that just failed

    with app.test_request_context("/portal/", headers=GERMAN):
        g.customer = CustomerWhoseRecordIsUnreachable()
        body, status, headers = render_outage(outage)

    assert status == 503 and headers["Retry-After"]
    assert '<html lang="de">' in body
    assert "Dienst nicht verfügbar" in body
