"""Encrypted model fields over a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import datetime as dt
import uuid

import pytest
import sqlalchemy as sa

from consentmgr import create_app
from consentmgr.crypto import DecryptionError, KeyConfigError
from consentmgr.customers.models import Customer, HistoryEntry
from consentmgr.keys.models import DataKey
from tests.conftest import TEST_ACTOR, base_config


def _reload(db, customer_id):
    customer_id = uuid.UUID(str(customer_id))
    db.session.commit()
    db.session.expunge_all()
    return db.session.get(Customer, customer_id)


def test_every_encrypted_customer_field_round_trips(db, create_customer):
    customer = create_customer(
        email="zoë@example.org", name="Zoë O'Brien", phone="+33 1 23 45 67 89",
        postal_address="Rue des Lilas 4\n75011 Paris", date_of_birth="1979-02-28",
        preferences={"channels": ["sms", "post"], "language": "fr", "topics": ["books"]},
    )
    loaded = _reload(db, customer.id)
    assert loaded.email == "zoë@example.org"
    assert loaded.name == "Zoë O'Brien"
    assert loaded.phone == "+33 1 23 45 67 89"
    assert loaded.postal_address == "Rue des Lilas 4\n75011 Paris"
    assert loaded.date_of_birth == dt.date(1979, 2, 28)
    assert loaded.preferences == {"channels": ["sms", "post"], "language": "fr", "topics": ["books"]}


def test_history_fields_round_trip_under_the_customers_key(db, create_customer):
    from consentmgr.customers.services import add_history

    customer = create_customer()
    entry = add_history(customer, {
        "occurred_at": "2026-05-01T10:00:00+00:00", "channel": "phone", "kind": "support-contact",
        "data_category": "support", "summary": "Asked about order NW-1", "details": {"ticket": 42},
    }, actor=TEST_ACTOR)
    entry_id = entry.id
    db.session.commit()
    db.session.expunge_all()
    loaded = db.session.get(HistoryEntry, entry_id)
    assert loaded.summary == "Asked about order NW-1" and loaded.details == {"ticket": 42}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DataKey)) == 1


def test_each_customer_gets_their_own_data_key(db, create_customer):
    create_customer()
    create_customer()
    rows = db.session.execute(sa.select(DataKey.owner_id, DataKey.wrapped)).all()
    assert len(rows) == 2 and rows[0].wrapped != rows[1].wrapped


def _raw_update(db, table, column, value, row_id):
    db.session.execute(sa.text(f"UPDATE {table} SET {column} = :v WHERE id = :id"),
                       {"v": value, "id": row_id if db.engine.dialect.name == "postgresql" else row_id.hex})
    db.session.commit()


def test_ciphertext_copied_into_another_row_fails_naming_the_row(db, create_customer):
    alice_id, bob_id = create_customer().id, create_customer().id
    stolen = db.session.scalar(sa.select(Customer._phone).where(Customer.id == alice_id))
    _raw_update(db, "customers", "phone", stolen, bob_id)
    loaded = _reload(db, bob_id)
    with pytest.raises(DecryptionError) as caught:
        loaded.phone
    assert caught.value.table == "customers" and caught.value.column == "phone"
    assert caught.value.row_id == str(bob_id)


def test_ciphertext_copied_into_another_column_fails_naming_the_column(db, create_customer):
    customer_id = create_customer().id
    name_ct = db.session.scalar(sa.select(Customer._name).where(Customer.id == customer_id))
    _raw_update(db, "customers", "phone", name_ct, customer_id)
    loaded = _reload(db, customer_id)
    assert loaded.name == "Ada Example"
    with pytest.raises(DecryptionError, match=r"customers\.phone"):
        loaded.phone


def test_wrong_master_key_fails_at_start_up_naming_the_key(app, db, create_customer, tmp_path):
    create_customer()
    wrong = "test1:" + base64.b64encode(b"w" * 32).decode()
    config = base_config(app.config["SQLALCHEMY_DATABASE_URI"], str(tmp_path),
                         CONSENTMGR_MASTER_KEYS=wrong)
    with pytest.raises(KeyConfigError, match="master key 'test1' does not unwrap"):
        create_app(config)


def test_wrong_master_key_at_a_value_raises_decryption_error_naming_where(app, db, create_customer, monkeypatch):
    from consentmgr.crypto import parse_keyring

    customer = create_customer()
    wrong = parse_keyring("test1:" + base64.b64encode(b"w" * 32).decode(), source="test")
    monkeypatch.setattr("consentmgr.keys.services.current_keyring", lambda session: wrong)
    loaded = _reload(db, customer.id)
    with pytest.raises(DecryptionError) as caught:
        loaded.email
    assert caught.value.column == "email" and "does not unwrap" in caught.value.reason


def test_a_list_of_customers_unwraps_keys_in_one_query(db, create_customer):
    ids = [create_customer().id for _ in range(12)]
    db.session.expunge_all()
    statements = []

    def count(conn, cursor, statement, *args):
        if "data_keys" in statement:
            statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        customers = db.session.scalars(sa.select(Customer).where(Customer.id.in_(ids))).all()
        names = [c.name for c in customers] + [c.email for c in customers]
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert len(names) == 24 and all(names)
    assert len(statements) == 1


def test_destroyed_data_key_makes_fields_unreadable(db, create_customer):
    customer = create_customer()
    db.session.execute(sa.update(DataKey).where(DataKey.owner_id == customer.id)
                       .values(wrapped=None, destroyed_at=sa.func.now()))
    loaded = _reload(db, customer.id)
    with pytest.raises(DecryptionError, match="destroyed"):
        loaded.email


def test_none_is_stored_as_null_not_as_an_empty_string(db, create_customer):
    customer = create_customer(phone=None)
    assert db.session.scalar(sa.select(Customer._phone).where(Customer.id == customer.id)) is None
    assert _reload(db, customer.id).phone is None


def _count_statements(db, needle: str):
    """Record the statements sent to the database that contain ``needle``."""
    seen: list[tuple[str, bool]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if needle in statement:
            seen.append((statement, executemany))

    sa.event.listen(db.engine, "before_cursor_execute", record)
    return seen, lambda: sa.event.remove(db.engine, "before_cursor_execute", record)


def test_values_set_before_and_after_the_record_joins_a_session_are_stored(db):
    customer = Customer(status="active")
    customer.email = "before@example.org"  # transient
    db.session.add(customer)
    customer.name = "Pending Person"  # pending
    db.session.flush()
    customer.phone = "+49 30 1234567"  # persistent: an UPDATE
    loaded = _reload(db, customer.id)
    assert (loaded.email, loaded.name, loaded.phone) == (
        "before@example.org", "Pending Person", "+49 30 1234567")


def test_a_changed_field_of_a_stored_record_is_written(db, create_customer):
    customer = _reload(db, create_customer().id)
    customer.name = "Grace Changed"
    assert customer in db.session.dirty
    assert _reload(db, customer.id).name == "Grace Changed"


def test_only_the_fields_read_are_decrypted(db, create_customer, monkeypatch):
    from consentmgr.crypto import FieldCipher

    loaded = _reload(db, create_customer().id)
    calls = []
    original = FieldCipher.decrypt_at

    def counting(self, blob, where, table, column, row_id):
        calls.append(column)
        return original(self, blob, where, table, column, row_id)

    monkeypatch.setattr(FieldCipher, "decrypt_at", counting)
    assert loaded.name == "Ada Example"
    assert calls == ["name"]


def test_a_key_is_unwrapped_once_per_unit_of_work_for_all_its_rows(
    db, create_customer, monkeypatch
):
    from consentmgr.customers.services import add_history
    from consentmgr.keys import services

    customer = create_customer()
    for n in range(3):
        add_history(customer, {
            "occurred_at": f"2026-05-0{n + 1}T10:00:00+00:00", "channel": "phone",
            "kind": "support-contact", "data_category": "support", "summary": f"Call {n}",
            "details": {"n": n},
        }, actor=TEST_ACTOR)
    customer_id = customer.id
    loaded = _reload(db, customer_id)
    unwrapped = []
    original = services.unwrap_data_key

    def counting(*args, **kwargs):
        unwrapped.append(kwargs["owner_id"])
        return original(*args, **kwargs)

    monkeypatch.setattr(services, "unwrap_data_key", counting)
    entries = db.session.scalars(sa.select(HistoryEntry)).all()
    read = [loaded.email, loaded.name] + [e.summary for e in entries] + [e.details for e in entries]
    assert len(read) == 8 and all(read)
    assert unwrapped == [customer_id]


def test_a_key_destroyed_after_commit_is_not_reused_by_a_loaded_record(db, create_customer):
    loaded = _reload(db, create_customer().id)
    assert loaded.email  # the key is unwrapped and in use
    db.session.commit()  # the unit of work ends; the instance stays in the session
    db.session.execute(sa.update(DataKey).where(DataKey.owner_id == loaded.id)
                       .values(wrapped=None, destroyed_at=sa.func.now()))
    with pytest.raises(DecryptionError, match="destroyed"):
        loaded.email


def test_a_field_set_after_erasure_in_the_same_transaction_is_refused(db, create_customer):
    from consentmgr.customers.services import erase_customer
    from consentmgr.keys.services import DataKeyUnavailable

    customer = create_customer()
    customer.phone = "+44 20 0000 0000"  # the key is in use by this instance before the erasure
    erase_customer(customer, actor=TEST_ACTOR)
    with pytest.raises(DataKeyUnavailable, match="destroyed"):
        customer.email = "after@example.org"


def test_changing_a_records_id_after_a_field_was_set_binds_new_values_to_the_new_id(db):
    customer = Customer(status="active")
    customer.email = "first@example.org"  # bound to the generated id
    customer.id = uuid.uuid4()
    customer.email = "second@example.org"  # re-encrypted for the new id
    db.session.add(customer)
    assert _reload(db, customer.id).email == "second@example.org"


def test_keys_of_customers_created_together_are_written_in_one_statement(db):
    seen, stop = _count_statements(db, "INSERT INTO data_keys")
    try:
        for n in range(3):
            customer = Customer(status="active")
            customer.email = f"c{n}@example.org"
            db.session.add(customer)
        db.session.flush()
    finally:
        stop()
    assert len(seen) == 1 and seen[0][1] is True  # one executemany
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DataKey)) == 3


def test_a_list_longer_than_a_batch_costs_one_key_query_per_batch(db):
    from consentmgr.keys.services import _BATCH

    for n in range(_BATCH + 1):
        customer = Customer(status="active")
        customer.name = f"Customer {n}"
        db.session.add(customer)
    db.session.commit()
    db.session.expunge_all()
    seen, stop = _count_statements(db, "FROM data_keys")
    try:
        names = [c.name for c in db.session.scalars(sa.select(Customer)).all()]
    finally:
        stop()
    assert sorted(names) == sorted(f"Customer {n}" for n in range(_BATCH + 1))
    assert len(seen) == 2


def test_values_under_an_older_data_key_version_still_decrypt(app, db, create_customer):
    from consentmgr.crypto import generate_data_key, read_header, wrap_data_key
    from consentmgr.keys.services import current_keyring

    customer_id = create_customer(phone="+44 1 111").id
    master = current_keyring(db.session).current
    db.session.execute(sa.insert(DataKey).values(
        owner_id=customer_id, version=2, master_key_id=master.id,
        wrapped=wrap_data_key(master, generate_data_key(), owner_id=customer_id, version=2)))
    db.session.commit()
    customer = db.session.get(Customer, customer_id)
    customer.phone = "+44 2 222"  # new values go under the newest version
    loaded = _reload(db, customer_id)
    stored = db.session.scalar(sa.select(Customer._phone).where(Customer.id == customer_id))
    assert read_header(stored)[2] == 2
    assert loaded.email.endswith("@example.org") and loaded.phone == "+44 2 222"


def test_a_key_created_in_a_rolled_back_savepoint_is_not_used_afterwards(db):
    customer = Customer(status="active")
    savepoint = db.session.begin_nested()
    customer.email = "first@example.org"
    db.session.add(customer)
    db.session.flush()  # the key's row is written inside the savepoint
    savepoint.rollback()  # ... and is gone again
    customer.email = "second@example.org"
    db.session.add(customer)
    assert _reload(db, customer.id).email == "second@example.org"

