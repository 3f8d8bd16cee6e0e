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
    monkeypatch.setattr("consentmgr.keys.services.current_keyring", lambda: wrong)
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
