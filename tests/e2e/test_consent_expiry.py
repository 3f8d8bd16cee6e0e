"""A consent whose term has ended, in a real browser: shown as expired, one click to give it again.

The shipped policy gives no purpose a term, so the test grants a consent and
then ends its term in the database (the term's arithmetic is tested in
``tests/consent/test_expiry.py``); the page and the click are what is tested here.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from consentmgr.consent.models import ConsentState
from consentmgr.consent.services import check_consent, grant_consent
from consentmgr.customers.services import create_customer
from consentmgr.extensions import db
from consentmgr.sql import utcnow
from tests.conftest import TEST_ACTOR
from tests.e2e import assert_no_axe_violations
from tests.e2e.test_portal import go_to, sign_in

pytestmark = pytest.mark.browser

PURPOSE = "Offers by text message"
PURPOSE_SLUG = "marketing-sms"


def customer_whose_consent_expired(live_server) -> tuple[uuid.UUID, str]:
    email = f"expired-{uuid.uuid4().hex[:8]}@example.org"
    with live_server.app.app_context():
        customer = create_customer({"email": email, "name": "Lapsed Consent"}, actor=TEST_ACTOR)
        grant_consent(customer, PURPOSE_SLUG, actor=TEST_ACTOR, channel="api")
        state = ConsentState.__table__
        db.session.execute(sa.update(state).where(
            state.c.customer_id == customer.id, state.c.purpose == PURPOSE_SLUG,
        ).values(expires_at=utcnow() - dt.timedelta(days=1)))
        db.session.commit()
        return customer.id, email


def test_an_expired_consent_is_shown_and_given_again_with_one_click(page, live_server,
                                                                     smtp_inbox):
    customer_id, email = customer_whose_consent_expired(live_server)
    check = lambda: assert_no_axe_violations(page)  # noqa: E731
    sign_in(page, live_server, smtp_inbox, email, check=check)

    go_to(page, "Consents")
    section = page.get_by_role("region", name=PURPOSE)
    expect(section.get_by_text("Your consent has expired.")).to_be_visible()
    expect(section.get_by_text("We no longer use your data for it")).to_be_visible()
    check()
    section.get_by_role("button", name=f"Give consent again to “{PURPOSE}”").click()
    page.wait_for_load_state()

    expect(page.get_by_text(f"You have given your consent to “{PURPOSE}”.")).to_be_visible()
    with live_server.app.app_context():
        assert check_consent(customer_id, PURPOSE_SLUG).allowed
