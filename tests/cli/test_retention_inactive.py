"""``flask retention purge`` closes accounts inactive for the policy's ``inactive_after_days``."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
import time_machine

from consentmgr.customers.models import Customer, CustomerStatus
from consentmgr.requests.inactivity import WARNING_DAYS
from consentmgr.sql import utcnow
from tests.requests.inactivity_policy import PERIOD, write_inactivity_policy


@pytest.fixture
def quiet(db, tmp_path, create_customer, publish_policy_files, mails):
    """A customer with a telltale name and nothing done since, under the 2027-01 policy."""
    publish_policy_files(write_inactivity_policy(tmp_path))
    return create_customer(name="QUIETNAME Example", email="quiet-person@example.org")


def _purge(runner, days: int, *options: str):
    """``flask retention purge`` with the clock ``days`` from now (the warning's audit time too)."""
    with time_machine.travel(utcnow() + dt.timedelta(days=days), tick=False):
        return runner.invoke(args=["retention", "purge", *options])


def _status(db, customer) -> CustomerStatus:
    db.session.expire_all()
    return CustomerStatus(db.session.scalar(
        sa.select(Customer.status).where(Customer.id == customer.id)))


def test_dry_run_names_who_would_be_warned_and_changes_nothing(runner, db, quiet, mails):
    result = _purge(runner, PERIOD - WARNING_DAYS + 1, "--dry-run")

    assert result.exit_code == 0, result.output
    assert f"inactive-warnings ({PERIOD} days): 1 would be warned" in result.output
    assert "1 customer(s) warned of closing" in result.output
    assert _status(db, quiet) == CustomerStatus.ACTIVE and mails == []


def test_the_purge_warns_then_closes_and_prints_no_personal_data(runner, db, quiet, mails):
    warning = _purge(runner, PERIOD - WARNING_DAYS + 1)
    assert f"inactive-warnings ({PERIOD} days): 1 warned" in warning.output
    assert f"inactive-accounts ({PERIOD} days): 0 closed" in warning.output

    result = _purge(runner, PERIOD + 1)

    assert result.exit_code == 0, result.output
    assert f"inactive-accounts ({PERIOD} days): 1 closed" in result.output
    for output in (warning.output, result.output):
        assert "QUIETNAME" not in output and "quiet-person" not in output
    assert _status(db, quiet) == CustomerStatus.ERASED
    assert [subject for _, subject, _ in mails] == ["Your account will be closed soon",
                                                    "We have closed your inactive account"]


def test_without_a_period_the_step_is_named_and_skipped(runner, db, create_customer,
                                                        publish_policy_files):
    publish_policy_files()
    create_customer()

    result = runner.invoke(args=["retention", "purge", "--dry-run"])

    assert "inactive-accounts: skipped, policy 2026-03 sets no inactive_after_days" in result.output
