"""Creators for the breach register's tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from consentmgr.actors import Actor
from consentmgr.breaches import services
from consentmgr.sql import utcnow
from consentmgr.staff.access import view_customer
from consentmgr.staff.accounts import get_staff, staff_actor

UTC = dt.UTC


def breach_details(**overrides: Any) -> dict[str, Any]:
    """A complete, valid set of register details (discovered an hour ago)."""
    details = {
        "discovered_at": utcnow() - dt.timedelta(hours=1),
        "description": "A support laptop was stolen from a car.",
        "data_categories": "Contact details of customers",
        "approx_people": 120,
        "consequences": "Phishing mails to the customers concerned.",
        "measures": "The laptop's account was locked; its disk is encrypted.",
    }
    details.update(overrides)
    return details


@pytest.fixture
def dpo_actor(create_staff_user) -> Actor:
    """The actor of a DPO account."""
    return staff_actor(get_staff(create_staff_user("dpo", password=None).id))


@pytest.fixture
def record_breach(db, dpo_actor):
    """Creator: ``record_breach(**overrides)`` records a breach and commits."""
    def create(**overrides: Any):
        breach = services.record_breach(breach_details(**overrides), actor=dpo_actor)
        db.session.commit()
        return breach
    return create


@pytest.fixture
def views_by(db):
    """``views_by(login, customer, ...)``: the staff member opens each customer's record."""
    def open_records(login, *customers) -> None:
        actor = staff_actor(get_staff(login.id))
        for customer in customers:
            view_customer(customer.id, actor=actor)
        db.session.commit()
    return open_records
