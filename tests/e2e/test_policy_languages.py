"""The policy pages in German in a real browser: the German document, `<html lang>`, axe."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e import assert_no_axe_violations

pytestmark = pytest.mark.browser


@pytest.fixture
def german_page(browser):
    """A page in a browser that asks for German (Accept-Language: de-DE)."""
    context = browser.new_context(locale="de-DE")
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.mark.parametrize("path", ["/privacy", "/privacy/2025-01", "/privacy/versions",
                                  "/privacy/compare?from=2025-01&to=2026-03"])
def test_policy_pages_in_german_are_accessible(german_page, live_server, path):
    response = german_page.goto(live_server.url_for(path))

    assert response is not None and response.status == 200
    expect(german_page.locator("html")).to_have_attribute("lang", "de")
    assert_no_axe_violations(german_page)


def test_the_german_policy_shows_the_german_text(german_page, live_server):
    german_page.goto(live_server.url_for("/privacy"))

    heading = german_page.get_by_role("heading", name="Über diese Datenschutzerklärung")
    expect(heading).to_be_visible()
    expect(german_page.get_by_role("heading", name="Ihre Rechte", exact=True)).to_be_visible()
