"""The unsubscribe link of a marketing mail, in a real browser: confirm, then done (axe included)."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from consentmgr.consent.services import check_consent, grant_consent
from consentmgr.customers.services import create_customer
from consentmgr.extensions import db
from consentmgr.runtime import runtime
from tests.conftest import TEST_ACTOR
from tests.e2e import assert_no_axe_violations

pytestmark = pytest.mark.browser

PURPOSE = "Newsletter and offers by email"
PURPOSE_SLUG = "marketing-email"


def subscribed_customer_link(live_server) -> tuple[uuid.UUID, str]:
    """A new customer who gave consent to marketing mail, and the link their mails carry."""
    with live_server.app.app_context():
        customer = create_customer({"email": f"news-{uuid.uuid4().hex[:8]}@example.org",
                                    "name": "Newsletter Reader"}, actor=TEST_ACTOR)
        grant_consent(customer, PURPOSE_SLUG, actor=TEST_ACTOR, channel="api")
        db.session.commit()
        return customer.id, runtime(live_server.app).links.unsubscribe(customer.id,
                                                                       PURPOSE_SLUG).url


def test_the_unsubscribe_link_confirms_then_withdraws_with_one_button(page, live_server):
    customer_id, link = subscribed_customer_link(live_server)

    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Unsubscribe from “{PURPOSE}”")
    expect(page).to_have_title("Unsubscribe · Northwind privacy centre")
    assert_no_axe_violations(page)
    with live_server.app.app_context():
        assert check_consent(customer_id, PURPOSE_SLUG).allowed  # opening it changed nothing

    page.get_by_role("button", name="Unsubscribe").click()
    page.wait_for_load_state()

    expect(page.get_by_role("heading", level=1)).to_have_text("You are unsubscribed")
    expect(page.get_by_role("link", name="Go to your privacy portal")).to_be_visible()
    assert_no_axe_violations(page)
    with live_server.app.app_context():
        assert check_consent(customer_id, PURPOSE_SLUG).status == "withdrawn"
