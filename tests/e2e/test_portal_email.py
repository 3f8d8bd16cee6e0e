"""Changing the email address in a real browser, with the links read from a real SMTP server.

A demo customer asks to change their address: the page answers the same for
another customer's address as for a free one, the new address gets a link,
the old one a notice, and the address changes only when the link's button is
pressed; axe checks every page on the way.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from consentmgr.customers.services import find_by_email
from tests.e2e import assert_no_axe_violations
from tests.e2e.test_portal import demo_email, go_to, sign_in

pytestmark = pytest.mark.browser

ANSWER = "We sent a confirmation link to the new address."


def newest_body(smtp_inbox, address: str, count: int) -> tuple[str, str]:
    messages = smtp_inbox.wait_for(address, count)
    assert len(messages) == count, [m["Subject"] for m in messages]
    return messages[-1]["Subject"], messages[-1].get_payload(decode=True).decode()


def ask_to_change(page, address: str) -> str:
    go_to(page, "Correct details")
    page.get_by_label("New email address").fill(address)
    page.get_by_role("button", name="Change my email address").click()
    expect(page.get_by_text(ANSWER)).to_be_visible()
    return page.locator("main").inner_text()


def test_the_email_address_changes_only_from_the_link_mailed_to_it(page, live_server, smtp_inbox):
    email = demo_email(1)
    new = "changed.address@example.org"
    sign_in(page, live_server, smtp_inbox, email, check=lambda: assert_no_axe_violations(page))
    notices_before = len(smtp_inbox.to(email))

    taken_answer = ask_to_change(page, demo_email(0))  # another customer's address
    assert_no_axe_violations(page)
    free_answer = ask_to_change(page, new)

    assert taken_answer == free_answer
    with live_server.app.app_context():
        assert find_by_email(email) is not None and find_by_email(new) is None
    subject, body = newest_body(smtp_inbox, email, notices_before + 2)
    assert subject == "A change of your email address was requested"

    subject, body = newest_body(smtp_inbox, new, 1)
    link = re.search(r"http://\S+/portal/email/confirm/[A-Za-z0-9_-]+", body).group(0)
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your new email address")
    assert_no_axe_violations(page)
    page.get_by_role("button", name="Confirm my new email address").click()

    expect(page.get_by_text("Your email address is changed.")).to_be_visible()
    expect(page.locator("#current-email")).to_contain_text(new)
    assert_no_axe_violations(page)
    with live_server.app.app_context():
        assert find_by_email(new) is not None and find_by_email(email) is None
    subject, _ = newest_body(smtp_inbox, email, notices_before + 3)
    assert subject == "Your email address was changed"

    response = page.goto(link)  # used
    assert response is not None and response.status == 410
    expect(page.get_by_role("heading", level=1)).to_have_text("This link was already used")
    assert_no_axe_violations(page)
