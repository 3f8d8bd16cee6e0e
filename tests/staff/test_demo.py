"""Demo staff accounts: one per role for development, never in production."""

from __future__ import annotations

import pytest

from consentmgr.staff import services
from consentmgr.staff.demo import DEMO_STAFF, DemoStaffRefused, load_demo_staff
from tests.conftest import TEST_ACTOR


def test_demo_accounts_are_refused_in_production(db):
    with pytest.raises(DemoStaffRefused):
        load_demo_staff(actor=TEST_ACTOR, production=True)

    assert services.list_staff() == []


def test_demo_accounts_are_created_once_ready_to_sign_in(db):
    first = load_demo_staff(actor=TEST_ACTOR, production=False)
    again = load_demo_staff(actor=TEST_ACTOR, production=False)

    assert [created for _, created in first] == [True] * len(DEMO_STAFF)
    assert [created for _, created in again] == [False] * len(DEMO_STAFF)
    agent = DEMO_STAFF[0]
    user = services.authenticate(agent.email, agent.password)
    assert user.totp_enrolled and user.totp_secret == agent.totp_secret
