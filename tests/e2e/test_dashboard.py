"""The DPO dashboard in a browser: accessible (axe), drawn without breaking the CSP, and pictured.

The live server's demo data (``flask demo load``) carries a year of history;
this test loads more demo customers the same way, so the charts look as they
would in a small shop, and saves a screenshot (``dashboard.png``) in the
folder ``CONSENTMGR_TEST_SCREENSHOTS`` names, when it is set.
"""

from __future__ import annotations

import os
import uuid

import pyotp
import pytest
from playwright.sync_api import expect

from tests.e2e import assert_no_axe_violations

pytestmark = pytest.mark.browser

SCREENSHOT_DIR = os.environ.get("CONSENTMGR_TEST_SCREENSHOTS", "")
DEMO_CUSTOMERS = 160


def _new_dpo(live_server) -> tuple[str, str, str]:
    from consentmgr.extensions import db
    from consentmgr.staff import services
    from tests.conftest import TEST_ACTOR

    email, password = f"dpo-{uuid.uuid4().hex[:8]}@staff.example", "a browser test password"
    with live_server.app.app_context():
        user, link = services.create_staff(email, "Dana Dashboard", "dpo", actor=TEST_ACTOR)
        services.set_password(link.rsplit("/", 1)[1], password)
        secret = services.start_totp_enrolment(user).secret
        user.totp_enrolled = True
        db.session.commit()
    return email, password, secret


def _load_history(live_server, request) -> None:
    """More demo customers, and a year of history for those the other tests do not use."""
    from consentmgr.actors import Actor
    from consentmgr.customers.demo import demo_customers
    from consentmgr.customers.services import find_by_email
    from consentmgr.dashboard.aggregates import refresh
    from consentmgr.dashboard.demo import load_demo_history
    from consentmgr.extensions import db
    from consentmgr.sql import utcnow
    from consentmgr.apiclients.services import create_client
    from consentmgr.staff.accounts import create_staff, find_staff_by_email
    from consentmgr.staff.demo import DEMO_STAFF
    from tests.conftest import TEST_ACTOR
    from tests.e2e.conftest import DEMO_CUSTOMERS as SHARED

    runner = live_server.app.test_cli_runner()
    result = runner.invoke(args=["demo", "load", "--count", str(DEMO_CUSTOMERS), "--no-history"])
    assert result.exit_code == 0, result.output
    with live_server.app.app_context():
        emails = [p["email"] for p in demo_customers(DEMO_CUSTOMERS)][SHARED:]
        staff = {s.role.value: find_staff_by_email(s.email) for s in DEMO_STAFF}
        # The demo agent and five colleagues: the demo agent reveals far more than the rest.
        colleagues = [create_staff(f"agent-{uuid.uuid4().hex[:8]}@staff.example", name, "agent",
                                   actor=TEST_ACTOR)[0]
                      for name in ("Bo Berg", "Cem Çelik", "Dora Diaz", "Emil Ek", "Fay Fox")]
        agents = [Actor("staff", str(u.id), role="agent") for u in [staff["agent"], *colleagues]]
        load_demo_history([find_by_email(e) for e in emails], actor=TEST_ACTOR,
                          staff=Actor("staff", str(staff["dpo"].id), role="dpo"),
                          agents=agents, today=utcnow().date())
        keys = {name: create_client(name, ["customers:read"], actor=TEST_ACTOR)[1]
                for name in ("Webshop", "CRM")}
        customer_ids = [str(find_by_email(e).id) for e in emails[:12]]
        db.session.commit()
    # Other systems read customers through the API (each read is audited).
    for name, calls in (("Webshop", 12), ("CRM", 5)):
        for customer_id in customer_ids[:calls]:
            answer = request.get(live_server.url_for(f"/api/v1/customers/{customer_id}"),
                                 headers={"Authorization": f"Bearer {keys[name]}"})
            assert answer.status == 200, answer.text()
    with live_server.app.app_context():
        refresh(db.session, now=utcnow())  # SQLite: entries are sequenced inline
        db.session.commit()


def _sign_in(page, live_server, email: str, password: str, secret: str) -> None:
    page.goto(live_server.url_for("/staff/sign-in"))
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("6-digit code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(live_server.url_for("/staff/"))


def test_the_dpo_dashboard_is_accessible_and_keeps_the_csp(page, live_server):
    _load_history(live_server, page.request)
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text)
            if "Content Security Policy" in m.text else None)
    _sign_in(page, live_server, *_new_dpo(live_server))

    page.get_by_role("link", name="Dashboard").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Data protection dashboard")
    expect(page.locator("#consent-rate svg polyline").first).to_be_attached()
    expect(page.locator("#withdrawals svg rect").first).to_be_attached()
    expect(page.locator("#api-use")).to_contain_text("Webshop")
    expect(page.get_by_text("Flagged:")).to_be_visible()
    assert_no_axe_violations(page)

    page.get_by_label("Period").select_option("52")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(live_server.url_for("/staff/dashboard?weeks=52"))
    expect(page.locator("#consent-rate svg text", has_text="Policy 2026-03")).to_be_attached()
    page.locator("#withdrawals summary").click()  # the data table behind the chart
    expect(page.get_by_role("table", name="Consent withdrawals per week, by purpose")).to_be_visible()
    assert_no_axe_violations(page)
    if SCREENSHOT_DIR and os.path.isdir(SCREENSHOT_DIR):
        page.locator("#withdrawals summary").click()
        page.set_viewport_size({"width": 1280, "height": 900})
        page.screenshot(path=os.path.join(SCREENSHOT_DIR, "dashboard.png"), full_page=True)
    assert violations == []

    with page.expect_download() as download:
        page.get_by_role("link", name="Download “Consent withdrawals per week, by purpose” as CSV").click()
    assert download.value.suggested_filename == "withdrawals-52-weeks.csv"


def test_an_empty_or_bad_period_in_the_browser(page, live_server):
    _sign_in(page, live_server, *_new_dpo(live_server))
    response = page.goto(live_server.url_for("/staff/dashboard?weeks=7"))
    assert response.status == 400
    expect(page.get_by_role("alert")).to_contain_text("Choose a period of 4, 12 or 52 weeks.")
    assert_no_axe_violations(page)
