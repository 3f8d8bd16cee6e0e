"""Master-key rotation: each batch re-wraps its keys and records its entry, or does neither."""

from __future__ import annotations

import base64

import sqlalchemy as sa

from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from consentmgr.crypto import parse_keyring
from consentmgr.keys.models import DataKey
from consentmgr.keys.rotation import keys_to_rewrap, rewrap_batch
from tests.conftest import TEST_ACTOR, TEST_MASTER_KEYS

NEW_MASTER_KEY = "test2:" + base64.b64encode(b"n" * 32).decode()


def _rotated():
    return parse_keyring(f"{NEW_MASTER_KEY},{TEST_MASTER_KEYS}", source="test")


def _rotation_entries(db) -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry)
                                   .where(AuditEntry.action == actions.KEYS_ROTATE_MASTER)
                                   .order_by(AuditEntry.sequence)))


def _keys_by_master(db) -> dict[str, int]:
    rows = db.session.execute(sa.select(DataKey.master_key_id, sa.func.count())
                              .group_by(DataKey.master_key_id)).all()
    return dict(rows)


def test_a_batch_rewraps_its_keys_and_records_one_entry_with_its_counts(db, create_customer):
    for _ in range(3):
        create_customer()
    keyring = _rotated()
    assert keys_to_rewrap(db.session, keyring) == 3

    assert rewrap_batch(db.session, keyring, actor=TEST_ACTOR, batch_size=2) == 2
    db.session.commit()

    [entry] = _rotation_entries(db)
    assert entry.details == {"to": "test2", "from": "test1", "rewrapped": 2}
    assert _keys_by_master(db) == {"test2": 2, "test1": 1}
    assert keys_to_rewrap(db.session, keyring) == 1


def test_a_batch_rolled_back_leaves_neither_its_keys_nor_its_entry(db, create_customer):
    for _ in range(2):
        create_customer()

    assert rewrap_batch(db.session, _rotated(), actor=TEST_ACTOR) == 2
    db.session.rollback()

    assert _rotation_entries(db) == []
    assert _keys_by_master(db) == {"test1": 2}


def test_nothing_left_to_rewrap_writes_no_entry(db, create_customer):
    create_customer()
    keyring = _rotated()
    assert rewrap_batch(db.session, keyring, actor=TEST_ACTOR) == 1
    db.session.commit()

    assert rewrap_batch(db.session, keyring, actor=TEST_ACTOR) == 0
    db.session.commit()

    assert len(_rotation_entries(db)) == 1
