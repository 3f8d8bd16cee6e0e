"""``flask demo load``: demo customers, never in production."""

from __future__ import annotations

import pytest
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


@pytest.fixture
def production_runner(app, db, tmp_path):
    """A CLI runner for the same database with ``CONSENTMGR_ENV=production``."""
    from consentmgr import create_app
    from tests.conftest import base_config

    production = create_app(base_config(app.config["SQLALCHEMY_DATABASE_URI"], str(tmp_path),
                                        CONSENTMGR_ENV="production"))
    with production.app_context():  # this app's context, not the test's
        yield production.test_cli_runner()


def test_demo_load_refuses_in_production_and_writes_nothing(production_runner, db):
    from consentmgr.audit.models import AuditEntry
    from consentmgr.staff.models import StaffUser

    result = production_runner.invoke(args=["demo", "load", "--count", "3"])

    assert result.exit_code != 0
    assert "not created in production" in result.output
    assert "CONSENTMGR_ENV=production" in result.output
    for model in (Customer, HistoryEntry, StaffUser, AuditEntry):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(model)) == 0
