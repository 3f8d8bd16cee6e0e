"""Customer records read by API clients: every read and every hit of a lookup is audited."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from consentmgr.apiclients import records
from consentmgr.apiclients.auth import AuthenticatedClient
from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from consentmgr.customers.services import CustomerNotFound, erase_customer
from tests.conftest import TEST_ACTOR

CALLER = AuthenticatedClient(id=uuid.uuid4(), name="crm", key_prefix="cmk_test",
                             scopes=frozenset({"customers:read"}))


def _entries(db, action: str) -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)))


def test_a_read_is_audited_with_the_client_and_the_fields_returned(db, create_customer):
    customer = create_customer(postal_address=None)
    record, revealed = records.read_customer(CALLER, customer.id, with_history=False)

    assert record["email"] == customer.email and record["postal_address"] is None
    assert "email" in revealed and "postal_address" not in revealed
    [entry] = _entries(db, actions.API_CUSTOMER_READ)
    assert entry.actor_type == "api-client" and entry.actor_id == str(CALLER.id)
    assert entry.subject_id == customer.id and list(entry.fields) == revealed


def test_history_counts_as_revealed_only_when_there_is_some(db, create_customer):
    customer = create_customer()
    _, revealed = records.read_customer(CALLER, customer.id, with_history=True)
    assert "history" not in revealed


def test_reading_an_erased_record_reveals_nothing_and_is_not_audited(db, create_customer):
    customer = create_customer()
    erase_customer(customer, actor=TEST_ACTOR)
    db.session.commit()

    record, revealed = records.read_customer(CALLER, customer.id, with_history=True)

    assert revealed == [] and record["email"] is None and record["history"] == []
    assert _entries(db, actions.API_CUSTOMER_READ) == []


def test_reading_an_unknown_customer_is_not_found_and_not_audited(db):
    with pytest.raises(CustomerNotFound):
        records.read_customer(CALLER, uuid.uuid4(), with_history=False)
    assert _entries(db, actions.API_CUSTOMER_READ) == []


def test_a_lookup_that_finds_someone_is_audited_as_revealing_the_email(db, create_customer):
    customer = create_customer()
    assert records.lookup_customer(CALLER, customer.email).id == customer.id
    [entry] = _entries(db, actions.API_CUSTOMER_LOOKUP)
    assert entry.subject_id == customer.id and list(entry.fields) == ["email"]


def test_a_lookup_that_finds_nobody_leaves_no_entry(db):
    assert records.lookup_customer(CALLER, "nobody@example.org") is None
    assert _entries(db, actions.API_CUSTOMER_LOOKUP) == []
