"""The privacy portal in a real browser, with sign-in mail through a real SMTP server.

A demo customer asks for a link, reads it from the SMTP inbox, signs in,
gives and withdraws a consent (one click each), downloads the receipt and
verifies it; axe checks every page on the way.
"""

from __future__ import annotations

import re
from typing import Any, Callable

import pytest
from playwright.sync_api import expect

from consentmgr.consent import receipts
from consentmgr.consent.services import check_consent
from consentmgr.customers.demo import demo_customers
from consentmgr.customers.services import find_by_email
from tests.e2e import assert_no_axe_violations
from tests.e2e.conftest import DEMO_CUSTOMERS

pytestmark = pytest.mark.browser

PURPOSE = "Offers by text message"
PURPOSE_SLUG = "marketing-sms"


def demo_email(index: int) -> str:
    """The address of one of the demo customers ``seed_live_database`` loaded."""
    return list(demo_customers(DEMO_CUSTOMERS))[index]["email"]


def mailed_link(smtp_inbox, email: str, before: int) -> str:
    """The sign-in link in the newest message to ``email`` (after ``before`` earlier ones)."""
    messages = smtp_inbox.wait_for(email, before + 1)
    assert len(messages) == before + 1, "exactly one new message was expected"
    body = messages[-1].get_payload(decode=True).decode()
    match = re.search(r"http://\S+/portal/sign-in/[A-Za-z0-9_-]+", body)
    assert match, body
    return match.group(0)


def sign_in(page: Any, live_server, smtp_inbox, email: str, *, check: Callable[[], None]) -> str:
    """Sign in through the emailed link; ``check()`` runs on each page. Returns the link."""
    before = len(smtp_inbox.to(email))
    page.goto(live_server.url_for("/portal/sign-in"))
    check()
    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    check()

    link = mailed_link(smtp_inbox, email, before)
    assert link.startswith(live_server.url + "/portal/sign-in/")
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to your privacy portal")
    check()
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My data")
    return link


def go_to(page: Any, name: str) -> None:
    """Follow a link in the portal navigation."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True).click()


def clicks_until_done(page: Any, button_name: str, done_message: str) -> int:
    """Click the button until the page confirms the choice; return how many clicks it took."""
    clicks = 0
    while not page.get_by_text(done_message).is_visible():
        assert clicks < 5, f"{done_message!r} never appeared"
        page.get_by_role("button", name=button_name).click()
        page.wait_for_load_state()
        clicks += 1
    return clicks


def decision(live_server, email: str) -> str:
    with live_server.app.app_context():
        return check_consent(find_by_email(email).id, PURPOSE_SLUG).status


def test_customer_signs_in_by_mail_changes_a_consent_and_verifies_the_receipt(
        page, live_server, smtp_inbox, tmp_path):
    email = demo_email(-1)
    check = lambda: assert_no_axe_violations(page)  # noqa: E731
    link = sign_in(page, live_server, smtp_inbox, email, check=check)
    check()  # My data
    expect(page.get_by_text(email)).to_be_visible()

    go_to(page, "Consents")
    expect(page.get_by_role("heading", level=1)).to_have_text("My consents")
    check()
    grant_clicks = clicks_until_done(page, f"Give consent to “{PURPOSE}”",
                                     f"You have given your consent to “{PURPOSE}”.")
    assert decision(live_server, email) == "given"
    check()
    withdraw_clicks = clicks_until_done(page, f"Withdraw consent to “{PURPOSE}”",
                                        f"You have withdrawn your consent to “{PURPOSE}”.")
    assert decision(live_server, email) == "withdrawn"
    assert grant_clicks == withdraw_clicks == 1  # GDPR Art. 7(3)

    receipt_link = page.get_by_role("link", name=re.compile(
        rf"^Download receipt\s*: Consent withdrawn, “{PURPOSE}”")).first
    with page.expect_download() as info:
        receipt_link.click()
    download = info.value
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    with live_server.app.app_context():
        claims = receipts.verify_receipt(saved.read_text())
    assert claims["consentmgr"]["action"] == "withdrawn"
    assert download.suggested_filename == f"consent-receipt-{claims['consentReceiptID']}.jws"

    page.get_by_role("link", name="Verify a receipt").click()
    check()
    page.get_by_label("Or choose a receipt file (.jws)").set_input_files(str(saved))
    page.get_by_role("button", name="Verify the receipt").click()
    expect(page.get_by_role("heading", name="This receipt is valid")).to_be_visible()
    check()

    go_to(page, "Who accessed my data")
    expect(page.get_by_role("heading", level=1)).to_have_text("Who has accessed my data")
    check()

    go_to(page, "Correct details")
    check()
    page.get_by_label("Phone number (optional)").fill("call me maybe")
    page.get_by_role("button", name="Save my details").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    expect(page.get_by_label("Phone number (optional)")).to_have_attribute("aria-invalid", "true")
    check()  # the error state is accessible too

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You have signed out.")).to_be_visible()
    check()

    response = page.goto(link)  # the used link
    assert response is not None and response.status == 410
    expect(page.get_by_role("heading", level=1)).to_have_text("This link was already used")
    check()


def test_the_portal_works_without_javascript(browser, live_server, smtp_inbox):
    email = demo_email(-2)
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in(page, live_server, smtp_inbox, email, check=lambda: None)
        go_to(page, "Consents")

        page.get_by_role("button", name=f"Give consent to “{PURPOSE}”").click()
        expect(page.get_by_text(f"You have given your consent to “{PURPOSE}”.")).to_be_visible()
        page.get_by_role("button", name=f"Withdraw consent to “{PURPOSE}”").click()
        expect(page.get_by_text(f"You have withdrawn your consent to “{PURPOSE}”.")).to_be_visible()
        assert decision(live_server, email) == "withdrawn"
    finally:
        context.close()


def test_a_global_privacy_control_signal_is_honoured_and_announced(browser, live_server,
                                                                  smtp_inbox):
    email = demo_email(-3)
    context = browser.new_context(extra_http_headers={"Sec-GPC": "1"})
    try:
        page = context.new_page()
        sign_in(page, live_server, smtp_inbox, email, check=lambda: None)

        expect(page.get_by_text("Your opt-out preference signal has been honoured.")).to_be_visible()
        assert_no_axe_violations(page)
        with live_server.app.app_context():
            sharing = check_consent(find_by_email(email).id, "third-party-sharing")
        assert sharing.status == "refused"
    finally:
        context.close()


def test_an_invalid_link_page_is_accessible(page, live_server):
    response = page.goto(live_server.url_for("/portal/sign-in/" + "x" * 43))

    assert response is not None and response.status == 400
    expect(page.get_by_role("heading", level=1)).to_have_text("This link is not valid")
    assert_no_axe_violations(page)


def test_the_receipt_key_is_published(page, live_server):
    response = page.goto(live_server.url_for("/.well-known/jwks.json"))

    assert response is not None and response.status == 200
    assert response.json()["keys"][0]["crv"] == "Ed25519"
