"""The consents page for a consent that has a term: when it ends, and asking again once it has."""

from __future__ import annotations

import datetime as dt
import html

import pytest

from consentmgr.consent import services as ledger
from consentmgr.policies.services import publish_policies
from consentmgr.sql import utcnow
from tests.conftest import TEST_ACTOR
from tests.consent.expiring import EXPIRING, TERM, write_expiring_policy
from tests.web.portal.test_consents import CONSENTS, choose, purpose_section


@pytest.fixture
def member(db, tmp_path, create_customer, sign_in):
    """A signed-in customer under the test policy, whose marketing consent has a term."""
    publish_policies(write_expiring_policy(tmp_path / "policies"), actor=TEST_ACTOR)
    db.session.commit()
    customer = create_customer()
    sign_in(customer)
    return customer


def grant(db, customer, collected_at: dt.datetime | None = None) -> None:
    ledger.grant_consent(customer, EXPIRING, actor=TEST_ACTOR, channel="api",
                         collected_at=collected_at)
    db.session.commit()


def marketing_section(client) -> str:
    response = client.get(CONSENTS)
    assert response.status_code == 200
    return purpose_section(html.unescape(response.get_data(as_text=True)), EXPIRING)


def test_a_consent_with_a_term_says_until_when_it_lasts(client, db, member):
    grant(db, member)

    section = marketing_section(client)

    ends = ledger.check_consent(member.id, EXPIRING).expires_at
    assert "You have given your consent." in section
    assert f'id="expires-{EXPIRING}"' in section and f"{ends.year}" in section
    assert "Withdraw consent" in section


def test_an_expired_consent_is_shown_as_expired_and_asked_for_again(client, db, member):
    grant(db, member, collected_at=utcnow() - TERM - dt.timedelta(days=3))

    section = marketing_section(client)

    assert "Your consent has expired." in section
    assert f'id="expired-{EXPIRING}"' in section and "We no longer use your data for it" in section
    assert "Give consent again" in section
    assert "Withdraw consent" not in section


def test_giving_consent_again_starts_a_new_term(client, db, member):
    grant(db, member, collected_at=utcnow() - TERM - dt.timedelta(days=3))

    assert choose(client, EXPIRING, "grant").status_code == 302

    decision = ledger.check_consent(member.id, EXPIRING)
    assert decision.allowed and decision.expires_at > utcnow() + TERM - dt.timedelta(days=1)
    assert "Your consent has expired." not in marketing_section(client)
