"""``flask keys status | rotate-master``: what operators see, and what the trail records."""

from __future__ import annotations

import base64

import pytest
import sqlalchemy as sa

from consentmgr import create_app
from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from consentmgr.customers.models import Customer
from consentmgr.keys.models import DataKey
from tests.conftest import TEST_MASTER_KEYS, base_config

NEW_MASTER_KEY = "test2:" + base64.b64encode(b"n" * 32).decode()


@pytest.fixture
def rotated_app(app, tmp_path):
    """The same database, configured with a new current master key (the old one kept after it)."""
    return create_app(base_config(app.config["SQLALCHEMY_DATABASE_URI"], str(tmp_path),
                                  CONSENTMGR_MASTER_KEYS=f"{NEW_MASTER_KEY},{TEST_MASTER_KEYS}"))


def _rotate(rotated_app, db, batch_size: int = 2):
    with rotated_app.app_context():  # an app context is already active: choose this app's
        result = rotated_app.test_cli_runner().invoke(
            args=["keys", "rotate-master", "--batch-size", str(batch_size)])
        db.session.remove()
    return result


def _rotation_entries(db) -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry)
                                   .where(AuditEntry.action == actions.KEYS_ROTATE_MASTER)
                                   .order_by(AuditEntry.sequence)))


def _keys_by_master(db) -> dict[str, int]:
    return dict(db.session.execute(sa.select(DataKey.master_key_id, sa.func.count())
                                   .group_by(DataKey.master_key_id)).all())


def test_keys_status_counts_data_keys_per_master_key(runner, db):
    runner.invoke(args=["demo", "load", "--count", "3"])
    result = runner.invoke(args=["keys", "status"])
    assert result.exit_code == 0, result.output
    # 3 customers and the 3 demo staff accounts (each encrypted under its own key).
    assert "test1 (current): 6 data keys" in result.output
    assert "Destroyed (erased customers): 0" in result.output


def test_rotate_master_rewraps_every_key_and_data_stays_readable(app, runner, db, tmp_path,
                                                               rotated_app):
    runner.invoke(args=["demo", "load", "--count", "3"])
    result = _rotate(rotated_app, db)
    assert result.exit_code == 0, result.output
    assert _keys_by_master(db) == {"test2": 6}
    # 3 customers' keys and the 3 demo staff accounts' keys.
    assert "re-wrapped 2/6" in result.output and "re-wrapped 6/6" in result.output
    # Only the new key is needed now.
    only_new = create_app(base_config(app.config["SQLALCHEMY_DATABASE_URI"], str(tmp_path),
                                      CONSENTMGR_MASTER_KEYS=NEW_MASTER_KEY))
    with only_new.app_context():
        names = [c.name for c in db.session.query(Customer)]
        db.session.remove()
    assert len(names) == 3 and all(names)


def test_rotate_master_records_one_entry_per_committed_batch(runner, db, rotated_app):
    runner.invoke(args=["demo", "load", "--count", "3"])
    result = _rotate(rotated_app, db, batch_size=4)
    assert result.exit_code == 0, result.output
    entries = _rotation_entries(db)
    assert [e.details["rewrapped"] for e in entries] == [4, 2]
    assert all(e.details["to"] == "test2" and e.actor_id == "cli:keys rotate-master"
               for e in entries)


def test_an_interrupted_rotation_leaves_entries_only_for_committed_batches(runner, db, rotated_app,
                                                                            monkeypatch):
    from consentmgr.keys import rotation

    runner.invoke(args=["demo", "load", "--count", "3"])
    calls = []
    wrap = rotation.wrap_data_key

    def fail_in_the_second_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the operator's Ctrl-C, half-way through batch two
        return wrap(*args, **kwargs)

    monkeypatch.setattr(rotation, "wrap_data_key", fail_in_the_second_batch)
    result = _rotate(rotated_app, db, batch_size=2)

    assert result.exit_code != 0
    [entry] = _rotation_entries(db)
    assert entry.details["rewrapped"] == 2
    assert _keys_by_master(db) == {"test2": 2, "test1": 4}

    db.session.commit()  # end the test's read before the next run writes
    monkeypatch.setattr(rotation, "wrap_data_key", wrap)
    resumed = _rotate(rotated_app, db, batch_size=2)
    assert resumed.exit_code == 0 and "re-wrapped 4/4" in resumed.output
    assert [e.details["rewrapped"] for e in _rotation_entries(db)] == [2, 2, 2]
