"""``flask demo load``: demo customers."""

from __future__ import annotations

import sqlalchemy as sa

from consentmgr.customers.models import Customer, HistoryEntry


def test_demo_load_creates_customers_with_history_and_is_idempotent(runner, db):
    first = runner.invoke(args=["demo", "load", "--count", "5"])
    assert first.exit_code == 0, first.output
    assert "5 created" in first.output
    second = runner.invoke(args=["demo", "load", "--count", "5"])
    assert "0 created, 5 already present" in second.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Customer)) == 5
    customers = db.session.scalars(sa.select(Customer)).all()
    assert all(c.history and c.preferences["language"] for c in customers)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(HistoryEntry)) >= 10
