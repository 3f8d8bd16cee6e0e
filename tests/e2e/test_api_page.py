"""The human-readable API page in a real browser: it loads, passes axe, and its links work."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e import assert_no_axe_violations

pytestmark = pytest.mark.browser


def test_api_page_loads_without_accessibility_violations(page, live_server):
    response = page.goto(live_server.url_for("/api/"))

    assert response is not None and response.status == 200
    expect(page.get_by_role("heading", level=1)).to_have_text("Integration API")
    assert_no_axe_violations(page)


def test_an_integrator_finds_the_consent_check_and_its_response_schema(page, live_server):
    page.goto(live_server.url_for("/api/"))
    page.get_by_role("link", name="Consent", exact=True).click()
    operation = page.locator("section.api-operation",
                             has=page.locator("#op-get-customers-customer_id-consents-purpose"))
    expect(operation).to_contain_text("Check consent for one purpose")
    operation.get_by_role("link", name="ConsentDecision").first.click()
    expect(page.locator("#schema-ConsentDecision")).to_be_in_viewport()


def test_a_problem_type_link_lands_on_its_explanation(page, live_server):
    response = page.request.get(live_server.url_for("/api/v1/no-such-thing"))
    problem_type = response.json()["type"]
    page.goto(live_server.url_for("/api/") + "#" + problem_type.split("#", 1)[1])
    expect(page.locator("#problem-not-found")).to_contain_text("Nothing exists at this address")
