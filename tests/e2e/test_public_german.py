"""The public pages in German, in a real browser: chosen by the browser's language or the switcher.

GDPR Art. 12(1): what we tell people must be in clear and plain language, which
for a German reader is German. Each page says so (``<html lang="de">``, read by
screen readers), shows German text and passes axe. The policy document's own
text is the policy's; these tests read the pages' chrome around it.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

import pytest
from playwright.sync_api import expect

from tests.e2e import assert_no_axe_violations
from tests.e2e.test_unsubscribe import subscribed_customer_link

pytestmark = pytest.mark.browser

GERMAN_PAGES = [
    ("/", "Ihr Datenschutz bei Northwind"),
    ("/privacy", "Datenschutzerklärung"),
    ("/privacy/versions", "Alle Fassungen der Datenschutzerklärung"),
    ("/privacy/compare?from=2025-01&to=2026-03",
     "Änderungen von Fassung 2025-01 zu Fassung 2026-03 der Datenschutzerklärung"),
]


@pytest.fixture
def german_page(browser) -> Iterator[Any]:
    """A page in a fresh context whose browser asks for German (``Accept-Language: de``)."""
    context = browser.new_context(extra_http_headers={"Accept-Language": "de"})
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def expect_german(page: Any) -> None:
    """The page declares German and its site chrome speaks it."""
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.get_by_role("link", name="Zum Hauptinhalt springen")).to_have_count(1)


@pytest.mark.parametrize(("path", "heading"), GERMAN_PAGES)
def test_a_german_browser_reads_each_public_page_in_german(german_page, live_server, path,
                                                           heading):
    response = german_page.goto(live_server.url_for(path))

    assert response is not None and response.status == 200
    assert response.headers["content-language"] == "de"
    expect_german(german_page)
    expect(german_page.get_by_role("heading", level=1)).to_have_text(heading)
    assert_no_axe_violations(german_page)


def test_the_version_list_gives_german_dates_statuses_and_labels(german_page, live_server):
    german_page.goto(live_server.url_for("/privacy/versions"))

    table = german_page.get_by_role("table")
    expect(table).to_contain_text("ab 1. März 2026")
    expect(table).to_contain_text("Derzeit gültig")
    expect(table).to_contain_text("Nicht mehr gültig")
    expect(german_page.get_by_role("link", name="Fassung 2025-01 mit 2026-03 vergleichen")
           ).to_be_visible()
    expect(german_page.get_by_label("Ältere Fassung")).to_be_visible()
    expect(german_page.get_by_role("button", name="Änderungen anzeigen")).to_be_visible()
    assert "March" not in german_page.locator("main").inner_text()


def test_the_policy_page_labels_its_facts_in_german(german_page, live_server):
    german_page.goto(live_server.url_for("/privacy"))

    expect(german_page.get_by_role("navigation", name="Auf dieser Seite")).to_be_visible()
    expect(german_page.get_by_role("heading", name="Wofür wir Ihre Daten verwenden", exact=True)
           ).to_be_visible()
    expect(german_page.locator("dl.facts dt", has_text="Rechtsgrundlage").first).to_be_visible()
    expect(german_page.locator(".policy-meta")).to_contain_text("Gültig ab 1. März 2026")


def test_the_comparison_names_its_changes_in_german(german_page, live_server):
    german_page.goto(live_server.url_for("/privacy/compare?from=2025-01&to=2026-03"))

    expect(german_page.get_by_role("heading", name="Wesentlich geänderte Zwecke")).to_be_visible()
    expect(german_page.get_by_role("heading", name="Änderungen am Text der Datenschutzerklärung")
           ).to_be_visible()
    expect(german_page.get_by_text("So lesen Sie die Änderungen:")).to_be_visible()


def test_the_unsubscribe_link_confirms_and_withdraws_in_german(german_page, live_server):
    _customer_id, link = subscribed_customer_link(live_server)

    german_page.goto(link)
    expect_german(german_page)
    expect(german_page.get_by_role("heading", level=1)).to_have_text(
        re.compile(r"^Von „.+“ abmelden$"))
    assert_no_axe_violations(german_page)

    german_page.get_by_role("button", name="Abmelden").click()
    german_page.wait_for_load_state()

    expect_german(german_page)
    expect(german_page.get_by_role("heading", level=1)).to_have_text("Sie sind abgemeldet")
    expect(german_page.get_by_role("link", name="Zu Ihrem Datenschutzportal")).to_be_visible()
    assert_no_axe_violations(german_page)


@pytest.mark.parametrize("path", ["/no-such-page", "/privacy/1999-01"])
def test_a_missing_page_says_so_in_german(german_page, live_server, path):
    response = german_page.goto(live_server.url_for(path))

    assert response is not None and response.status == 404
    expect_german(german_page)
    expect(german_page.get_by_role("heading", level=1)).to_have_text("Nicht gefunden")
    expect(german_page.get_by_role("link", name="Zurück zur Startseite")).to_be_visible()
    assert_no_axe_violations(german_page)


def test_the_switcher_turns_the_pages_german_and_they_stay_german(page, live_server):
    page.goto(live_server.url_for("/privacy/versions"))
    expect(page.locator("html")).to_have_attribute("lang", "en")

    page.get_by_role("navigation", name="Language").get_by_role("link", name="Deutsch").click()

    expect(page).to_have_url(live_server.url_for("/privacy/versions"))
    expect_german(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Alle Fassungen der Datenschutzerklärung")

    page.goto(live_server.url_for("/no-such-page"))  # remembered: the 404 page is German too
    expect_german(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Nicht gefunden")
    assert_no_axe_violations(page)


def test_the_switcher_on_an_error_page_does_not_repeat_its_address(page, live_server):
    page.goto(live_server.url_for("/privacy/no-such-version"))

    page.get_by_role("navigation", name="Language").get_by_role("link", name="Deutsch").click()

    expect(page).to_have_url(live_server.url_for("/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Ihr Datenschutz bei Northwind")
