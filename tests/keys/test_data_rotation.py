"""Data-key rotation: every value of an owner moves to a new key, or none does; the old key goes."""

from __future__ import annotations

import base64
import datetime as dt
import uuid

import pytest
import sqlalchemy as sa

from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from consentmgr.consent.ledger import Evidence, grant_consent
from consentmgr.crypto import (
    FieldCipher,
    KeyConfigError,
    parse_keyring,
    read_header,
    unwrap_data_key,
)
from consentmgr.crypto.envelope import HEADER_BYTES, NONCE_BYTES, location
from consentmgr.customers.models import Customer, HistoryEntry
from consentmgr.customers.services import add_history, find_by_email
from consentmgr.keys import data_rotation
from consentmgr.keys.fields import EncryptedRecord
from consentmgr.keys.models import DataKey, DataKeyRotation
from consentmgr.keys.registry import encrypted_tables
from consentmgr.runtime import runtime
from consentmgr.sql import utcnow
from consentmgr.staff.models import StaffUser
from tests.conftest import TEST_ACTOR, TEST_MASTER_KEYS

OTHER_KEY = base64.b64encode(b"w" * 32).decode()


def _history(customer, summary: str = "Asked about a late parcel") -> None:
    add_history(customer, {"occurred_at": "2026-02-01T10:00:00Z", "channel": "phone",
                           "kind": "support-contact", "data_category": "support-history",
                           "summary": summary, "details": {"ticket": "T-4711"}}, actor=TEST_ACTOR)


@pytest.fixture
def people(db, create_customer, create_staff_user, publish_policy_files):
    """Two customers with history and a consent note, and a staff member."""
    publish_policy_files()
    customers = [create_customer(email=f"rot{i}@example.org") for i in range(2)]
    for customer in customers:
        _history(customer)
        _history(customer, "Bought a spade")
        grant_consent(customer, "personalisation", actor=TEST_ACTOR, channel="staff",
                      evidence=Evidence(note="Phone call, ticket 4711"))
    db.session.commit()
    staff = create_staff_user()
    return [c.id for c in customers], uuid.UUID(staff.id)


def _stored_values(db) -> list[tuple[str, str, bytes]]:
    """Every encrypted value in the database: (table, row id, blob)."""
    found = []
    for entry in encrypted_tables():
        table = entry.table
        for row in db.session.execute(sa.select(table.c.id, *(table.c[c] for c in entry.columns))):
            found += [(entry.name, str(row[0]), bytes(blob))
                      for blob in row[1:] if blob is not None]
    return found


def _run(db, keyring=None, batch_size: int = 1) -> None:
    """A whole run, committing each step as ``flask keys rotate-data`` does."""
    keyring = keyring or runtime().master_keys
    rotation = data_rotation.start_or_resume(db.session, keyring)
    db.session.commit()
    while batch := data_rotation.prepare_batch(db.session, keyring, rotation,
                                               batch_size=batch_size):
        db.session.commit()
        data_rotation.reencrypt_batch(db.session, keyring, batch, actor=TEST_ACTOR,
                                      rotation=rotation)
        db.session.commit()
        data_rotation.destroy_old_versions(db.session, keyring, batch)
        db.session.commit()
    data_rotation.finish(db.session, rotation)
    db.session.commit()


def _live_versions(db) -> dict[uuid.UUID, list[int]]:
    found: dict[uuid.UUID, list[int]] = {}
    for owner_id, version in db.session.execute(
            sa.select(DataKey.owner_id, DataKey.version).where(DataKey.wrapped.is_not(None))
            .order_by(DataKey.version)):
        found.setdefault(owner_id, []).append(version)
    return found


def _readable(db, customer_ids, staff_id) -> None:
    db.session.expire_all()
    for customer_id in customer_ids:
        customer = db.session.get(Customer, customer_id)
        assert customer.name == "Ada Example" and customer.phone == "+44 20 7946 0958"
        assert {h.summary for h in customer.history} == {"Asked about a late parcel",
                                                        "Bought a spade"}
        assert all(h.details == {"ticket": "T-4711"} for h in customer.history)
        assert find_by_email(customer.email).id == customer_id
    assert db.session.get(StaffUser, staff_id).email.endswith("@staff.example")


def test_every_encrypted_model_is_in_the_registry_with_its_owner_column(db, people):
    customer_ids, staff_id = people
    names = {entry.name: entry for entry in encrypted_tables()}
    assert {"customers", "history_entries", "consent_events", "staff_users"} <= set(names)
    assert names["customers"].columns == ("email", "name", "phone", "postal_address",
                                          "date_of_birth", "preferences")
    for entry in names.values():
        assert issubclass(entry.model, EncryptedRecord)
        for row in db.session.scalars(sa.select(entry.model)):
            # The owner column says what data_key_owner() says for a stored row.
            assert getattr(row, entry.owner_column) == row.data_key_owner()[0]


def test_rotation_moves_every_value_to_a_new_key_and_destroys_the_old_one(db, people):
    customer_ids, staff_id = people
    before = _stored_values(db)
    assert {read_header(blob)[2] for _, _, blob in before} == {1}

    _run(db)

    after = _stored_values(db)
    assert len(after) == len(before)
    assert {read_header(blob)[2] for _, _, blob in after} == {2}
    assert {table for table, _, _ in after} >= {"customers", "history_entries", "consent_events",
                                                "staff_users"}
    assert _live_versions(db) == {owner: [2] for owner in [*customer_ids, staff_id]}
    destroyed = db.session.scalar(sa.select(sa.func.count()).select_from(DataKey)
                                  .where(DataKey.version == 1, DataKey.destroyed_at.is_not(None)))
    assert destroyed == 3
    _readable(db, customer_ids, staff_id)
    assert db.session.get(Customer, customer_ids[0]).history[0].__class__ is HistoryEntry


def test_no_two_values_share_a_nonce_before_or_after_rotation(db, people):
    before = _stored_values(db)
    _run(db)
    after = _stored_values(db)
    nonces = [blob[HEADER_BYTES:HEADER_BYTES + NONCE_BYTES] for _, _, blob in before + after]
    assert len(set(nonces)) == len(nonces)


def test_each_batch_writes_one_entry_with_counts_and_nothing_personal(db, people):
    _run(db, batch_size=2)
    entries = list(db.session.scalars(sa.select(AuditEntry)
                                      .where(AuditEntry.action == actions.KEYS_ROTATE_DATA)))
    assert len(entries) == 2  # 3 owners, 2 per batch
    assert sum(e.details["owners"] for e in entries) == 3
    for entry in entries:
        assert set(entry.details) == {"run", "owners", "reencrypted"}
        assert entry.subject_id is None
        assert "example" not in str(entry.details)


def test_a_run_killed_after_the_new_keys_leaves_everything_readable_and_resumes(db, people):
    customer_ids, staff_id = people
    keyring = runtime().master_keys
    rotation = data_rotation.start_or_resume(db.session, keyring)
    db.session.commit()
    batch = data_rotation.prepare_batch(db.session, keyring, rotation, batch_size=10)
    db.session.commit()
    data_rotation.reencrypt_batch(db.session, keyring, batch, actor=TEST_ACTOR, rotation=rotation)
    db.session.rollback()  # killed before the re-encryption committed

    assert {read_header(blob)[2] for _, _, blob in _stored_values(db)} == {1}
    _readable(db, customer_ids, staff_id)

    _run(db)  # resumes the same run, reusing the keys already made
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DataKeyRotation)) == 1
    assert _live_versions(db) == {owner: [2] for owner in [*customer_ids, staff_id]}
    _readable(db, customer_ids, staff_id)


def test_a_run_killed_before_the_old_keys_go_destroys_them_on_the_next_run(db, people):
    customer_ids, staff_id = people
    keyring = runtime().master_keys
    rotation = data_rotation.start_or_resume(db.session, keyring)
    batch = data_rotation.prepare_batch(db.session, keyring, rotation, batch_size=10)
    db.session.commit()
    data_rotation.reencrypt_batch(db.session, keyring, batch, actor=TEST_ACTOR, rotation=rotation)
    db.session.commit()  # killed here: two live keys, every value under the newest

    assert set(map(tuple, _live_versions(db).values())) == {(1, 2)}
    _readable(db, customer_ids, staff_id)

    _run(db)
    assert _live_versions(db) == {owner: [2] for owner in [*customer_ids, staff_id]}
    _readable(db, customer_ids, staff_id)


def test_a_value_written_under_the_old_key_meanwhile_keeps_that_key_alive_until_moved(
        db, people):
    customer_ids, staff_id = people
    keyring = runtime().master_keys
    rotation = data_rotation.start_or_resume(db.session, keyring)
    batch = data_rotation.prepare_batch(db.session, keyring, rotation, batch_size=10)
    db.session.commit()
    data_rotation.reencrypt_batch(db.session, keyring, batch, actor=TEST_ACTOR, rotation=rotation)
    db.session.commit()
    # A request that loaded version 1 before the new key existed writes with it now.
    table = Customer.__table__
    stored = db.session.execute(
        sa.select(DataKey.master_key_id, DataKey.wrapped)
        .where(DataKey.owner_id == customer_ids[1], DataKey.version == 1)).one()
    key = unwrap_data_key(keyring, stored.wrapped, master_key_id=stored.master_key_id,
                          owner_id=customer_ids[1], version=1)
    written_late = FieldCipher(key, 1).encrypt_at(
        b"+44 1 late", location("customers", "phone", customer_ids[1]))
    db.session.execute(sa.update(table).where(table.c.id == customer_ids[1])
                       .values(phone=written_late))
    db.session.commit()

    assert data_rotation.destroy_old_versions(db.session, keyring, batch) == 2  # not hers
    db.session.commit()
    assert _live_versions(db)[customer_ids[1]] == [1, 2]

    _run(db)
    assert _live_versions(db)[customer_ids[1]] == [2]
    db.session.expire_all()
    assert db.session.get(Customer, customer_ids[1]).phone == "+44 1 late"


@pytest.mark.parametrize("ring", [
    f"other:{OTHER_KEY}",  # the master key in use is missing
    f"test1:{OTHER_KEY}",  # the right id with the wrong key material
])
def test_a_missing_or_wrong_master_key_stops_the_run_before_anything_changes(db, people, ring):
    before = _stored_values(db)
    keyring = parse_keyring(ring, source="CONSENTMGR_MASTER_KEYS")

    with pytest.raises(KeyConfigError, match="'test1'"):
        data_rotation.start_or_resume(db.session, keyring)
    db.session.rollback()

    assert db.session.scalar(sa.select(sa.func.count()).select_from(DataKeyRotation)) == 0
    assert _stored_values(db) == before
    assert set(map(tuple, _live_versions(db).values())) == {(1,)}


def test_new_keys_are_wrapped_under_the_current_master_key(db, people):
    new = "test2:" + base64.b64encode(b"n" * 32).decode()
    keyring = parse_keyring(f"{new},{TEST_MASTER_KEYS}", source="test")
    _run(db, keyring)
    masters = set(db.session.scalars(sa.select(DataKey.master_key_id)
                                     .where(DataKey.wrapped.is_not(None))))
    assert masters == {"test2"}


def test_a_finished_run_is_not_resumed_and_a_new_run_rotates_again(db, people):
    customer_ids, staff_id = people
    _run(db)
    _run(db)
    assert _live_versions(db) == {owner: [3] for owner in [*customer_ids, staff_id]}
    _readable(db, customer_ids, staff_id)


def test_old_keys_wait_until_the_new_ones_have_settled(db, people):
    customer_ids, staff_id = people
    keyring = runtime().master_keys
    rotation = data_rotation.start_or_resume(db.session, keyring)
    batch = data_rotation.prepare_batch(db.session, keyring, rotation, batch_size=10)
    db.session.commit()
    made = utcnow()
    data_rotation.reencrypt_batch(db.session, keyring, batch, actor=TEST_ACTOR, rotation=rotation)
    db.session.commit()

    # A request that loaded the old key just before the move may still commit with it.
    early = made - dt.timedelta(seconds=data_rotation.SETTLE_SECONDS)
    assert data_rotation.destroy_old_versions(db.session, keyring, batch,
                                              settled_before=early) == 0
    assert data_rotation.prepare_batch(db.session, keyring, rotation, batch_size=10,
                                       settled_before=early) == []  # nothing to spin on
    until = data_rotation.unsettled_until(db.session, data_rotation.SETTLE_SECONDS)
    assert until is not None and until > utcnow()
    assert set(map(tuple, _live_versions(db).values())) == {(1, 2)}

    later = utcnow() + dt.timedelta(seconds=1)
    assert sorted(data_rotation.prepare_batch(db.session, keyring, rotation, batch_size=10,
                                              settled_before=later)) == sorted(batch)
    assert data_rotation.destroy_old_versions(db.session, keyring, batch,
                                              settled_before=later) == len(batch)
    db.session.commit()
    assert data_rotation.unsettled_until(db.session, data_rotation.SETTLE_SECONDS) is None
    _readable(db, customer_ids, staff_id)
