"""Demo data and key status commands."""

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


def test_keys_status_counts_data_keys_per_master_key(runner, db):
    runner.invoke(args=["demo", "load", "--count", "3"])
    result = runner.invoke(args=["keys", "status"])
    assert result.exit_code == 0, result.output
    # 3 customers and the 3 demo staff accounts (each encrypted under its own key).
    assert "test1 (current): 6 data keys" in result.output
    assert "Destroyed (erased customers): 0" in result.output


def test_rotate_master_rewraps_every_key_and_data_stays_readable(app, runner, db, tmp_path):
    import base64

    from consentmgr import create_app
    from consentmgr.customers.models import Customer
    from consentmgr.keys.models import DataKey
    from tests.conftest import TEST_MASTER_KEYS, base_config

    runner.invoke(args=["demo", "load", "--count", "3"])
    new_key = "test2:" + base64.b64encode(b"n" * 32).decode()
    rotated = create_app(base_config(app.config["SQLALCHEMY_DATABASE_URI"], str(tmp_path),
                                     CONSENTMGR_MASTER_KEYS=f"{new_key},{TEST_MASTER_KEYS}"))
    with rotated.app_context():  # an app context is already active: choose this app's
        result = rotated.test_cli_runner().invoke(args=["keys", "rotate-master", "--batch-size", "2"])
        assert {k.master_key_id for k in db.session.query(DataKey)} == {"test2"}
        db.session.remove()
    assert result.exit_code == 0, result.output
    # 3 customers' keys and the 3 demo staff accounts' keys.
    assert "re-wrapped 2/6" in result.output and "re-wrapped 6/6" in result.output
    # Only the new key is needed now.
    only_new = create_app(base_config(app.config["SQLALCHEMY_DATABASE_URI"], str(tmp_path),
                                      CONSENTMGR_MASTER_KEYS=new_key))
    with only_new.app_context():
        names = [c.name for c in db.session.query(Customer)]
        db.session.remove()
    assert len(names) == 3 and all(names)
