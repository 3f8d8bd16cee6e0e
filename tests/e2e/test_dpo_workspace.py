"""The DPO's records of processing and breach register in a real browser, checked with axe."""

from __future__ import annotations

import datetime as dt
import uuid

import pyotp
import pytest
from playwright.sync_api import expect

from consentmgr.extensions import db
from consentmgr.sql import utcnow
from consentmgr.staff import services
from tests.conftest import TEST_ACTOR
from tests.e2e import assert_no_axe_violations

pytestmark = pytest.mark.browser


def _sign_in_as_new_dpo(page, live_server) -> None:
    email, password = f"dpo-{uuid.uuid4().hex[:8]}@staff.example", "a browser test password"
    with live_server.app.app_context():
        user, link = services.create_staff(email, "Browser DPO", "dpo", actor=TEST_ACTOR)
        services.set_password(link.rsplit("/", 1)[1], password)
        secret = services.start_totp_enrolment(user).secret
        user.totp_enrolled = True
        db.session.commit()
    page.goto(live_server.url_for("/staff/sign-in"))
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("6-digit code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(live_server.url_for("/staff/"))


def test_the_dpo_reads_the_record_and_records_a_breach(page, live_server):
    _sign_in_as_new_dpo(page, live_server)
    assert_no_axe_violations(page)  # the DPO's start page

    page.get_by_role("link", name="Records of processing").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Records of processing activities")
    expect(page.get_by_role("rowheader", name="customers.email")).to_be_visible()
    assert_no_axe_violations(page)

    page.goto(live_server.url_for("/staff/breaches"))
    page.get_by_label("When it was discovered (UTC)").fill("2999-01-01T10:00")
    page.get_by_role("button", name="Record the breach").click()
    expect(page.get_by_role("alert")).to_contain_text("cannot be in the future")
    assert_no_axe_violations(page)

    discovered = (utcnow() - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    page.get_by_label("When it was discovered (UTC)").fill(discovered)
    page.get_by_label("What happened").fill("A browser test breach")
    page.get_by_label("Categories of data and of people concerned").fill("Email addresses")
    page.get_by_label("Approximate number of people affected").fill("3")
    page.get_by_label("Likely consequences").fill("None likely")
    page.get_by_label("Measures taken or proposed").fill("Closed the hole")
    page.get_by_role("button", name="Record the breach").click()
    expect(page.locator(".countdown-text")).to_contain_text("left")
    assert_no_axe_violations(page)
