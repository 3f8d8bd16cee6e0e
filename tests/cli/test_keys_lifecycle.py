"""``flask keys rotate-data | retire-master | reindex``: each key rotatable, interrupted or not."""

from __future__ import annotations

import base64
import importlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from consentmgr import create_app
from consentmgr.apiclients.external_refs import (
    external_ref_indexer,
    indexed_text,
)
from consentmgr.apiclients.models import ApiClient, ExternalRef
from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from consentmgr.audit.verify import verify_chain
from consentmgr.crypto import read_header
from consentmgr.customers.models import Customer
from consentmgr.customers.services import add_history, find_by_email
from consentmgr.keys import reindex as reindex_service
from consentmgr.keys.models import DataKey, DataKeyRotation, RetiredMasterKey
from consentmgr.keys.registry import encrypted_tables
from consentmgr.mail import OutboxMessage
from tests.conftest import TEST_ACTOR, TEST_INDEX_KEYS, TEST_MASTER_KEYS, base_config
from tests.fixtures.audit import sequence_audit

ROOT = Path(__file__).resolve().parents[2]
cli_keys = importlib.import_module("consentmgr.cli.keys")  # the package exports the group as `keys`
NEW_MASTER_KEY = "test2:" + base64.b64encode(b"n" * 32).decode()
NEW_INDEX_KEY = "idx2:" + base64.b64encode(b"j" * 32).decode()
WRONG_MASTER_KEY = "test1:" + base64.b64encode(b"w" * 32).decode()


def _app_with(app, tmp_path, **settings):
    """The same database under another configuration (keys added, replaced or removed)."""
    return create_app(base_config(app.config["SQLALCHEMY_DATABASE_URI"],
                                  str(tmp_path / uuid.uuid4().hex), **settings))


def _invoke(other_app, db, *args: str):
    with other_app.app_context():  # an app context is already active: choose this app's
        result = other_app.test_cli_runner().invoke(args=list(args))
        db.session.remove()
    return result


@pytest.fixture
def customers(db, create_customer):
    """Creator: ``customers(count, history=2)`` commits customers with history; their ids."""
    def create(count: int, history: int = 2) -> list[uuid.UUID]:
        ids = []
        for i in range(count):
            customer = create_customer(email=f"kr{i}-{uuid.uuid4().hex[:6]}@example.org")
            for h in range(history):
                add_history(customer, {"occurred_at": "2026-02-01T10:00:00Z", "channel": "phone",
                                       "kind": "support-contact",
                                       "data_category": "support-history",
                                       "summary": f"Call {h}", "details": {"n": h}},
                            actor=TEST_ACTOR)
            ids.append(customer.id)
        db.session.commit()
        return ids

    return create


def _versions(db) -> set[int]:
    found = set()
    for entry in encrypted_tables():
        table = entry.table
        for row in db.session.execute(sa.select(*(table.c[c] for c in entry.columns))):
            found |= {read_header(bytes(blob))[2] for blob in row if blob is not None}
    return found


def _all_readable(db, ids: list[uuid.UUID], history: int = 2) -> None:
    db.session.expire_all()
    for customer_id in ids:
        customer = db.session.get(Customer, customer_id)
        assert customer.name == "Ada Example" and customer.email.endswith("@example.org")
        assert sorted(h.summary for h in customer.history) == [f"Call {h}" for h in range(history)]
    db.session.commit()


def _entries(db, action: str) -> int:
    db.session.commit()  # a fresh snapshot
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)
                             .where(AuditEntry.action == action)) or 0


def _chain_verifies(db) -> None:
    sequence_audit(db)
    result = verify_chain()
    assert result.ok, result.reason


# -- rotate-data ------------------------------------------------------------------------------


def test_rotate_data_reencrypts_everything_and_says_what_it_did(runner, db, customers):
    ids = customers(3)

    # A second of settling: the old keys outlive the last batch by that, then go.
    result = runner.invoke(args=["keys", "rotate-data", "--batch", "2", "--settle", "1"])

    assert result.exit_code == 0, result.output
    # 3 customers x (6 fields + 2 history entries x 2 fields).
    assert "Done: 3 owners rotated, 30 values re-encrypted, 3 old data-key versions destroyed." \
        in result.output
    assert _versions(db) == {2}
    _all_readable(db, ids)
    assert _entries(db, actions.KEYS_ROTATE_DATA) == 2
    _chain_verifies(db)


@pytest.mark.parametrize("ring", [WRONG_MASTER_KEY, NEW_MASTER_KEY])
def test_rotate_data_with_a_wrong_or_missing_master_key_changes_nothing_and_names_it(
        db, customers, database_url, tmp_path, ring):
    ids = customers(2)
    process = _flask(database_url, tmp_path, "keys", "rotate-data", "--settle", "0",
                     CONSENTMGR_MASTER_KEYS=ring, output=subprocess.PIPE)
    _, errors = process.communicate(timeout=120)

    assert process.returncode != 0
    assert "master key 'test1'" in errors.decode()  # checked when the application starts
    assert _versions(db) == {1}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DataKeyRotation)) == 0
    assert _entries(db, actions.KEYS_ROTATE_DATA) == 0
    _all_readable(db, ids)


def test_rotate_data_stops_at_a_value_it_cannot_decrypt_and_undoes_that_batch(
        runner, db, customers):
    ids = customers(3)
    table = Customer.__table__
    phone = bytes(db.session.scalar(sa.select(table.c.phone).where(table.c.id == ids[1])))
    forged = phone[:2] + (9).to_bytes(4, "big") + phone[6:]  # names a version never made
    db.session.execute(sa.update(table).where(table.c.id == ids[1]).values(phone=forged))
    db.session.commit()

    result = runner.invoke(args=["keys", "rotate-data", "--settle", "0"])

    assert result.exit_code == 1
    assert "the current batch undone" in result.output
    assert "customers.phone" in result.output and "version 9" in result.output
    assert _versions(db) == {1, 9}  # nothing of the batch was re-encrypted
    assert _entries(db, actions.KEYS_ROTATE_DATA) == 0


def _flask(database_url: str, instance: Path, *args: str, output: int = subprocess.DEVNULL,
           **settings: str) -> subprocess.Popen:
    """``flask <args>`` as a process of its own on the test's database."""
    config = base_config(database_url, str(instance), **settings)
    env = {**os.environ, **{k: v for k, v in config.items() if k.startswith("CONSENTMGR_")}}
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT,
                            env=env, stdout=output, stderr=output)


def _kill_after(db, process: subprocess.Popen, action: str, batches: int,
                timeout: float = 60.0) -> None:
    """SIGKILL ``process`` once ``batches`` of its batches have committed."""
    deadline = time.monotonic() + timeout
    try:
        while _entries(db, action) < batches:
            assert process.poll() is None, "the command ended before it could be killed"
            assert time.monotonic() < deadline, "the command committed no batch in time"
            time.sleep(0.01)  # no helper waits on another process's commits
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)


def test_rotate_data_killed_mid_run_leaves_every_value_readable_and_a_rerun_finishes(
        app, db, customers, database_url, tmp_path):
    ids = customers(60)
    process = _flask(database_url, tmp_path, "keys", "rotate-data", "--batch", "1",
                     "--settle", "0")
    _kill_after(db, process, actions.KEYS_ROTATE_DATA, batches=3)

    with app.app_context():
        assert 0 < db.session.scalar(sa.select(sa.func.count(sa.distinct(DataKey.owner_id)))
                                     .where(DataKey.version == 2)) < 60  # killed mid-run
        assert _versions(db) == {1, 2}
        _all_readable(db, ids)
    status = _invoke(app, db, "keys", "status")
    assert "Data-key rotation run 1 is unfinished" in status.output

    rerun = _flask(database_url, tmp_path, "keys", "rotate-data", "--batch", "7",
                   "--settle", "0")
    assert rerun.wait(120) == 0

    assert _versions(db) == {2}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DataKey)
                             .where(DataKey.wrapped.is_not(None))) == 60
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DataKeyRotation)
                             .where(DataKeyRotation.finished_at.is_not(None))) == 1
    _all_readable(db, ids)
    _chain_verifies(db)


def test_rotate_master_killed_mid_run_leaves_every_key_unwrappable_and_a_rerun_finishes(
        app, db, customers, database_url, tmp_path):
    ids = customers(60, history=1)
    rings = {"CONSENTMGR_MASTER_KEYS": f"{NEW_MASTER_KEY},{TEST_MASTER_KEYS}"}
    process = _flask(database_url, tmp_path, "keys", "rotate-master", "--batch-size", "1",
                     **rings)
    _kill_after(db, process, actions.KEYS_ROTATE_MASTER, batches=3)

    masters = dict(db.session.execute(sa.select(DataKey.master_key_id, sa.func.count())
                                      .group_by(DataKey.master_key_id)).all())
    assert masters["test2"] >= 3 and masters["test1"] > 0  # killed mid-run
    db.session.commit()
    both = _app_with(app, tmp_path, **rings)
    with both.app_context():
        _all_readable(db, ids, history=1)
        db.session.remove()

    rerun = _flask(database_url, tmp_path, "keys", "rotate-master", "--batch-size", "7", **rings)
    assert rerun.wait(120) == 0

    only_new = _app_with(app, tmp_path, CONSENTMGR_MASTER_KEYS=NEW_MASTER_KEY)
    with only_new.app_context():
        _all_readable(db, ids, history=1)
        db.session.remove()
    assert dict(db.session.execute(sa.select(DataKey.master_key_id, sa.func.count())
                                   .group_by(DataKey.master_key_id)).all()) == {"test2": 60}
    _chain_verifies(db)


# -- retire-master ----------------------------------------------------------------------------


def test_retire_master_refuses_while_data_keys_are_wrapped_by_it_and_says_how_many(
        app, db, customers, tmp_path):
    customers(3)
    rotated = _app_with(app, tmp_path,
                        CONSENTMGR_MASTER_KEYS=f"{NEW_MASTER_KEY},{TEST_MASTER_KEYS}")

    result = _invoke(rotated, db, "keys", "retire-master", "test1")

    assert result.exit_code == 1
    assert "3 data keys are still wrapped by master key 'test1'" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RetiredMasterKey)) == 0
    assert _entries(db, actions.KEYS_RETIRE_MASTER) == 0


@pytest.mark.parametrize(("key_id", "message"), [
    ("test2", "is the current master key"),
    ("nope", "unknown master key 'nope'"),
])
def test_retire_master_refuses_the_current_key_and_an_unknown_id(
        app, db, customers, tmp_path, key_id, message):
    customers(1)
    rotated = _app_with(app, tmp_path,
                        CONSENTMGR_MASTER_KEYS=f"{NEW_MASTER_KEY},{TEST_MASTER_KEYS}")
    result = _invoke(rotated, db, "keys", "retire-master", key_id)
    assert result.exit_code == 1 and message in result.output
    assert _entries(db, actions.KEYS_RETIRE_MASTER) == 0


def test_retire_master_refuses_while_queued_mail_is_sealed_under_it(app, db, customers, tmp_path):
    customers(1)
    db.session.add(OutboxMessage(id=uuid.uuid4(), job_id=uuid.uuid4(), created_at=sa.func.now(),
                                 master_key_id="test1", wrapped_key=b"x" * 60, sealed=b"y" * 60))
    db.session.commit()
    rotated = _app_with(app, tmp_path,
                        CONSENTMGR_MASTER_KEYS=f"{NEW_MASTER_KEY},{TEST_MASTER_KEYS}")
    assert _invoke(rotated, db, "keys", "rotate-master").exit_code == 0

    result = _invoke(rotated, db, "keys", "retire-master", "test1")

    assert result.exit_code == 1 and "1 queued mails are still sealed" in result.output


def test_after_rotate_master_the_old_key_is_retired_audited_and_flagged_until_removed(
        app, db, customers, tmp_path):
    customers(2)
    rotated = _app_with(app, tmp_path,
                        CONSENTMGR_MASTER_KEYS=f"{NEW_MASTER_KEY},{TEST_MASTER_KEYS}")
    assert _invoke(rotated, db, "keys", "rotate-master").exit_code == 0

    result = _invoke(rotated, db, "keys", "retire-master", "test1")

    assert result.exit_code == 0, result.output
    assert "remove 'test1' from CONSENTMGR_MASTER_KEYS" in result.output
    entry = db.session.scalar(sa.select(AuditEntry)
                              .where(AuditEntry.action == actions.KEYS_RETIRE_MASTER))
    assert entry.details == {"master_key": "test1"}
    status = _invoke(rotated, db, "keys", "status")
    assert "'test1' is retired: remove it from CONSENTMGR_MASTER_KEYS" in status.output
    again = _invoke(rotated, db, "keys", "retire-master", "test1")
    assert again.exit_code == 1 and "already retired" in again.output
    _chain_verifies(db)


# -- reindex ----------------------------------------------------------------------------------


def _client(db) -> ApiClient:
    client = ApiClient(name="CRM", key_prefix="abcd1234", key_hash="x" * 64,
                       scopes=["customers:write"], created_by="test")
    db.session.add(client)
    db.session.flush()
    return client


def test_reindex_moves_every_index_to_the_new_key_and_lookups_work_throughout(
        app, db, customers, tmp_path, create_staff_user, monkeypatch):
    ids = customers(5, history=0)
    staff = create_staff_user()
    emails = {cid: db.session.get(Customer, cid).email for cid in ids}
    client = _client(db)
    ref = ExternalRef(client_id=client.id, customer_id=ids[0],
                      ref_index=external_ref_indexer().compute(indexed_text(client.id, "CRM-1")))
    ref.external_ref = "CRM-1"
    db.session.add(ref)
    db.session.commit()
    rings = {"CONSENTMGR_BLIND_INDEX_KEYS": f"{NEW_INDEX_KEY},{TEST_INDEX_KEYS}"}
    rotated = _app_with(app, tmp_path, **rings)

    before = _invoke(rotated, db, "keys", "status")
    assert "customers.email: idx2: 0, idx1: 5" in before.output

    # Mid-run: two batches of two, then interrupted.
    calls = []
    real = reindex_service.reindex_batch

    def two_batches(*args, **kwargs):
        calls.append(1)
        if len(calls) > 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(cli_keys, "reindex_batch", two_batches)
    assert _invoke(rotated, db, "keys", "reindex", "--batch", "2").exit_code != 0
    monkeypatch.setattr(cli_keys, "reindex_batch", real)

    middle = _invoke(rotated, db, "keys", "status")
    assert "customers.email: idx2: 4, idx1: 1" in middle.output
    for config in (rotated, _app_with(app, tmp_path, **rings)):
        with config.app_context():
            for cid, email in emails.items():
                assert find_by_email(email.upper()).id == cid  # under either key
            db.session.remove()

    done = _invoke(rotated, db, "keys", "reindex", "--batch", "2")
    assert done.exit_code == 0, done.output
    assert "no longer need idx1" in done.output

    after = _invoke(rotated, db, "keys", "status")
    assert "customers.email: idx2: 5, idx1: 0" in after.output
    assert "staff_users.email: idx2: 1, idx1: 0" in after.output
    assert "api_external_refs.ref: idx2: 1, idx1: 0" in after.output
    assert "Every index is under the current blind-index key." in after.output
    only_new = _app_with(app, tmp_path, CONSENTMGR_BLIND_INDEX_KEYS=NEW_INDEX_KEY)
    with only_new.app_context():
        for cid, email in emails.items():
            assert find_by_email(email).id == cid
        stored = db.session.scalar(sa.select(ExternalRef))
        assert stored.ref_index == external_ref_indexer().compute(indexed_text(client.id, "CRM-1"))
        assert stored.external_ref == "CRM-1"
        db.session.remove()
    assert staff  # its sign-in lookup is covered by tests/staff with the same indexer
    entries = db.session.scalars(sa.select(AuditEntry)
                                 .where(AuditEntry.action == actions.KEYS_REINDEX)).all()
    assert sum(e.details["reindexed"] for e in entries) == 7
    assert all("example" not in str(e.details) for e in entries)
    _chain_verifies(db)
