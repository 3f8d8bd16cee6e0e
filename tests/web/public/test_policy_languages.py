"""The public policy pages and their JSON in the page's language, English where there is none."""

from __future__ import annotations

import re

import time_machine

TODAY = "2026-11-23 12:00Z"
GERMAN = {"Accept-Language": "de"}


def get(client, url: str, headers=None, at: str = TODAY):
    with time_machine.travel(at, tick=False):
        response = client.get(url, headers=headers or {})
    assert response.status_code == 200, (url, response.status_code)
    return response


def html_lang(page: str) -> str:
    return re.search(r'<html lang="([^"]+)"', page)[1]


def test_the_policy_in_german_shows_the_german_document(client, shipped):
    page = get(client, "/privacy", GERMAN).get_data(as_text=True)
    assert html_lang(page) == "de"
    assert "Über diese Datenschutzerklärung" in page and "Persönliche Empfehlungen" in page
    assert "About this policy" not in page


def test_the_policy_in_english_stays_english(client, shipped):
    page = get(client, "/privacy").get_data(as_text=True)
    assert html_lang(page) == "en"
    assert "About this policy" in page and "Über diese" not in page


def test_a_version_without_german_is_shown_in_english_and_says_so(client, with_future_version):
    response = get(client, "/privacy/2027-01", GERMAN)
    page = response.get_data(as_text=True)
    assert html_lang(page) == "en" and response.headers["Content-Language"] == "en"
    assert "About this policy" in page
    assert 'lang="de"><p>Diese Fassung ist nur auf Englisch verfügbar.</p>' in page


def test_the_json_is_the_document_in_the_page_language(client, shipped):
    data = get(client, "/privacy/2026-03.json", GERMAN).get_json()
    assert (data["language"], data["languages"], data["source"]) == (
        "de", ["en", "de"], "2026-03.de.md")
    english = get(client, "/privacy/2026-03.json").get_json()
    assert english["language"] == "en" and english["source"] == "2026-03.md"
    titles = {p["slug"]: p["title"] for p in data["purposes"]}
    assert titles["personalisation"] == "Persönliche Empfehlungen"
    hashes = {p["slug"]: p["notice_hash"] for p in english["purposes"]}
    assert all(p["notice_hash"] != hashes[p["slug"]] for p in data["purposes"])


def test_the_json_language_can_be_asked_for_in_the_query(client, shipped):
    assert get(client, "/privacy.json?language=de").get_json()["language"] == "de"
    assert get(client, "/privacy.json?language=xx").get_json()["language"] == "en"


def test_the_comparison_in_german_compares_the_german_texts(client, shipped):
    page = get(client, "/privacy/compare?from=2025-01&to=2026-03", GERMAN).get_data(as_text=True)
    assert html_lang(page) == "de"
    assert "Produktbewertungen" in page and "Persönliche Empfehlungen" in page
    assert "Product reviews" not in page


def test_the_comparison_with_an_english_only_version_is_in_english(client, with_future_version):
    page = get(client, "/privacy/compare?from=2026-03&to=2027-01", GERMAN).get_data(as_text=True)
    assert html_lang(page) == "en"
    assert "Diese Fassung ist nur auf Englisch verfügbar." in page


def test_the_version_list_shows_the_german_summaries(client, shipped):
    page = get(client, "/privacy/versions", GERMAN).get_data(as_text=True)
    assert "Erste veröffentlichte Fassung" in page
