"""The privacy portal in German, in a real browser: the switcher, the stated preference, axe.

A customer signs in (in English), switches to German with the footer switcher
and reads the consent page, My data, My requests and the details page in
German; a customer whose stated preference is German gets German pages as
soon as they are signed in. axe checks every page on the way.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from playwright.sync_api import expect

from consentmgr.customers.models import Customer
from consentmgr.customers.services import create_customer
from consentmgr.extensions import db
from tests.conftest import TEST_ACTOR
from tests.e2e import assert_no_axe_violations
from tests.e2e.test_portal import mailed_link, sign_in

pytestmark = pytest.mark.browser

# Every page in the portal's navigation, with its heading, in German.
GERMAN_PAGES = [
    ("Einwilligungen", "Meine Einwilligungen"),
    ("Meine Daten", "Meine Daten"),
    ("Meine Anträge", "Meine Anträge"),
    ("Angaben berichtigen", "Meine Angaben und Präferenzen berichtigen"),
]


def new_customer(live_server, language: str) -> tuple[uuid.UUID, str]:
    """A customer of our own (the demo customers belong to other tests), stating ``language``."""
    email = f"sprache-{uuid.uuid4().hex[:8]}@example.org"
    with live_server.app.app_context():
        customer = create_customer({"email": email, "name": "Grete Weber", "preferences": {
            "channels": ["email"], "language": language, "topics": []}}, actor=TEST_ACTOR)
        db.session.commit()
        return customer.id, email


def stated_language(live_server, customer_id: uuid.UUID) -> str:
    with live_server.app.app_context():
        return db.session.get(Customer, customer_id).preferences["language"]


def expect_german_page(page: Any, heading: str) -> None:
    """The page says it is German, and is."""
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    assert_no_axe_violations(page)


def test_a_customer_switches_the_portal_to_german(page, live_server, smtp_inbox):
    customer_id, email = new_customer(live_server, "en")
    sign_in(page, live_server, smtp_inbox, email, check=lambda: assert_no_axe_violations(page))
    expect(page.locator("html")).to_have_attribute("lang", "en")

    switcher = page.get_by_role("navigation", name="Language")
    switcher.get_by_role("button", name="Deutsch").click()

    expect_german_page(page, "Meine Daten")
    expect(page.get_by_role("navigation", name="Sprache")
           .get_by_role("button", name="Deutsch")).to_have_attribute("aria-current", "true")
    assert stated_language(live_server, customer_id) == "de"
    for link, heading in GERMAN_PAGES:
        page.get_by_role("navigation", name="Hauptnavigation").get_by_role(
            "link", name=link, exact=True).click()
        expect_german_page(page, heading)


def test_the_switcher_brings_the_customer_back_to_the_same_page(page, live_server, smtp_inbox):
    _customer_id, email = new_customer(live_server, "en")
    sign_in(page, live_server, smtp_inbox, email, check=lambda: None)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My requests").click()

    page.get_by_role("navigation", name="Language").get_by_role("button", name="Deutsch").click()

    expect_german_page(page, "Meine Anträge")
    assert page.url == live_server.url_for("/portal/requests")
    page.get_by_role("navigation", name="Sprache").get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My requests")
    expect(page.locator("html")).to_have_attribute("lang", "en")


def test_a_customer_who_stated_german_gets_german_right_after_sign_in(page, live_server,
                                                                      smtp_inbox):
    _customer_id, email = new_customer(live_server, "de")
    before = len(smtp_inbox.to(email))
    page.goto(live_server.url_for("/portal/sign-in"))
    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")

    page.goto(mailed_link(smtp_inbox, email, before))
    page.get_by_role("button", name="Sign in").click()

    expect_german_page(page, "Meine Daten")
    expect(page.get_by_text("Sie sind angemeldet.")).to_be_visible()
    for link, heading in GERMAN_PAGES:
        page.get_by_role("navigation", name="Hauptnavigation").get_by_role(
            "link", name=link, exact=True).click()
        expect_german_page(page, heading)
