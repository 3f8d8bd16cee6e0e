"""The staff screens in a real browser: sign in with a code, find, reveal, and the customer sees it.

The demo staff accounts come from ``demo load`` (run by the live server's
seeding, as ``make run`` does). Each demo account signs in once per session:
an authenticator code is good for one sign-in only.
"""

from __future__ import annotations

import uuid

import pyotp
import pytest
from playwright.sync_api import expect

from consentmgr.customers.demo import demo_customers
from consentmgr.staff.demo import DEMO_STAFF
from tests.e2e import assert_no_axe_violations

pytestmark = pytest.mark.browser

DEMO = {login.role.value: login for login in DEMO_STAFF}


def _sign_in(page, live_server, email: str, password: str, secret: str) -> None:
    page.goto(live_server.url_for("/staff/sign-in"))
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter your authenticator code")
    assert_no_axe_violations(page)
    page.get_by_label("6-digit code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(live_server.url_for("/staff/"))


def _new_staff(live_server, role: str, *, enrolled: bool = True) -> tuple[str, str, str | None]:
    """A fresh account on the live server: (email, password, TOTP secret)."""
    from consentmgr.extensions import db
    from consentmgr.staff import services
    from tests.conftest import TEST_ACTOR

    email, password = f"{role}-{uuid.uuid4().hex[:8]}@staff.example", "a browser test password"
    with live_server.app.app_context():
        user, link = services.create_staff(email, f"Browser {role.title()}", role, actor=TEST_ACTOR)
        services.set_password(link.rsplit("/", 1)[1], password)
        secret = None
        if enrolled:
            secret = services.start_totp_enrolment(user).secret
            user.totp_enrolled = True
        db.session.commit()
    return email, password, secret


def test_an_agent_reveals_a_phone_number_and_the_customer_sees_it(page, live_server):
    agent = DEMO["agent"]
    customer = next(demo_customers(1))
    page.goto(live_server.url_for("/staff/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Staff sign-in")
    assert_no_axe_violations(page)

    _sign_in(page, live_server, agent.email, agent.password, agent.totp_secret)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Hello, {agent.display_name}")
    assert_no_axe_violations(page)

    page.get_by_role("link", name="Find a customer").first.click()
    assert_no_axe_violations(page)
    page.get_by_label("Email address or customer id").fill(customer["email"])
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("One customer found.")).to_be_visible()
    assert customer["phone"] not in page.content()
    assert_no_axe_violations(page)

    page.get_by_role("link", name="Open the record").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Customer record")
    assert customer["phone"] not in page.content()
    assert_no_axe_violations(page)

    page.get_by_role("link", name="Reveal phone number").click()
    assert_no_axe_violations(page)
    page.get_by_role("button", name="Reveal phone number").click()  # no reason yet
    expect(page.get_by_role("alert")).to_contain_text("Choose why you need to see this value.")
    assert customer["phone"] not in page.content()
    assert_no_axe_violations(page)

    page.get_by_label("Reason").select_option("customer-request")
    page.get_by_label("Justification").fill("Caller asked us to confirm the number on file")
    page.get_by_role("button", name="Reveal phone number").click()
    expect(page.locator("#revealed-value")).to_have_text(customer["phone"])
    assert_no_axe_violations(page)

    page.get_by_role("link", name="Back to the record").click()
    assert customer["phone"] not in page.content()
    page.get_by_role("link", name="See and record consent choices").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Consent choices")
    assert_no_axe_violations(page)

    # The customer signs in to the portal and sees who looked, and why.
    from consentmgr.customers.signin import request_sign_in_link
    from consentmgr.extensions import db

    with live_server.app.app_context():
        link = request_sign_in_link(customer["email"])
        db.session.commit()
    portal = page.context.browser.new_context().new_page()
    try:
        portal.goto(link.url)
        portal.get_by_role("button", name="Sign in").click()
        portal.goto(live_server.url_for("/portal/access"))
        row = portal.get_by_role("row").filter(has_text="Revealed your phone number")
        expect(row).to_contain_text(agent.display_name)
        expect(row).to_contain_text("You asked us to")
        assert_no_axe_violations(portal)
    finally:
        portal.context.close()


def test_the_dpo_audit_browser_is_accessible_and_verifies_the_chain(page, live_server):
    dpo = DEMO["dpo"]
    _sign_in(page, live_server, dpo.email, dpo.password, dpo.totp_secret)

    page.get_by_role("link", name="Audit trail").first.click()

    expect(page.get_by_role("status").filter(has_text="Chain verified.")).to_be_visible()
    assert_no_axe_violations(page)
    page.get_by_label("Action").select_option("staff.sign-in")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("cell", name="staff.sign-in", exact=True).first).to_be_visible()
    assert_no_axe_violations(page)


def test_the_admin_screens_are_accessible(page, live_server):
    admin = DEMO["admin"]
    _sign_in(page, live_server, admin.email, admin.password, admin.totp_secret)

    page.get_by_role("link", name="Staff accounts").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Staff accounts")
    assert_no_axe_violations(page)
    page.get_by_role("link", name="Create a staff account").click()
    page.get_by_role("button", name="Create account").click()  # nothing filled in
    expect(page.get_by_role("alert")).to_be_visible()
    assert_no_axe_violations(page)
    page.get_by_label("Work email address").fill(f"new-{uuid.uuid4().hex[:8]}@staff.example")
    page.get_by_label("Name").fill("Nova New")
    page.get_by_label("Role").select_option("agent")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#password-link")).to_contain_text("/staff/set-password/")
    assert_no_axe_violations(page)

    page.get_by_role("link", name="API clients").first.click()
    assert_no_axe_violations(page)
    page.get_by_label("Name of the calling system").fill("browser-shop")
    page.get_by_label("consent:read").check()
    page.get_by_role("button", name="Create client and show its key").click()
    expect(page.locator("#api-key")).to_contain_text("cmk_")
    assert_no_axe_violations(page)


def test_a_newcomer_sets_a_password_and_an_authenticator(page, live_server):
    from consentmgr.extensions import db
    from consentmgr.staff import services
    from tests.conftest import TEST_ACTOR

    email = f"newcomer-{uuid.uuid4().hex[:8]}@staff.example"
    with live_server.app.app_context():
        _, link = services.create_staff(email, "Nia Newcomer", "agent", actor=TEST_ACTOR)
        db.session.commit()

    page.goto(link)
    assert_no_axe_violations(page)
    page.get_by_label("New password", exact=True).fill("my brand new staff password")
    page.get_by_label("Repeat the new password").fill("my brand new staff password")
    page.get_by_role("button", name="Set password").click()
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill("my brand new staff password")
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Set up your authenticator app")
    assert_no_axe_violations(page)
    secret = page.locator("#totp-secret").inner_text()
    page.get_by_label("6-digit code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Confirm and sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Nia Newcomer")
