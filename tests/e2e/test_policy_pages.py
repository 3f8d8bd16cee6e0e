"""The public policy pages in a real browser: they load, pass axe, and link together."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e import assert_no_axe_violations

pytestmark = pytest.mark.browser

PUBLIC_PAGES = [
    "/",
    "/privacy",
    "/privacy/versions",
    "/privacy/2025-01",
    "/privacy/compare?from=2025-01&to=2026-03",
]


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_public_page_loads_without_accessibility_violations(page, live_server, path):
    response = page.goto(live_server.url_for(path))

    assert response is not None and response.status == 200
    expect(page.get_by_role("heading", level=1)).to_have_count(1)
    assert_no_axe_violations(page)


def test_unknown_version_page_is_accessible_too(page, live_server):
    response = page.goto(live_server.url_for("/privacy/1999-01"))

    assert response is not None and response.status == 404
    assert_no_axe_violations(page)


def test_reader_follows_links_from_the_policy_to_the_versions_to_the_comparison(page, live_server):
    page.goto(live_server.url_for("/"))
    page.get_by_role("link", name="Privacy policy").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Privacy policy")

    page.get_by_role("link", name="All versions of the privacy policy").click()
    expect(page).to_have_url(live_server.url_for("/privacy/versions"))

    page.get_by_role("link", name="Compare version 2025-01 with 2026-03").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Changes from version 2025-01 to version 2026-03 of the privacy policy"
    )
    expect(page.get_by_role("heading", name="Materially changed purposes")).to_be_visible()
    expect(page.get_by_role("heading", name="New Product reviews")).to_be_visible()


def test_compare_form_works_without_javascript(browser, live_server):
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(live_server.url_for("/privacy/versions"))

        page.get_by_label("Older version").select_option("2026-03")
        page.get_by_label("Newer version").select_option("2025-01")
        page.get_by_role("button", name="Show the changes").click()

        expect(page).to_have_url(live_server.url_for("/privacy/compare?from=2026-03&to=2025-01"))
        expect(page.get_by_role("heading", name="Removed purposes")).to_be_visible()
    finally:
        context.close()
