"""Shared column types and lookups: timestamps read back in UTC, ids that are simply not found."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from consentmgr.customers.models import Customer
from consentmgr.customers.services import CustomerNotFound
from consentmgr.sql import as_uuid, as_utc, get_or_raise


def test_as_uuid_takes_text_or_uuids_and_refuses_anything_else():
    key = uuid.uuid4()
    assert as_uuid(key) is key
    assert as_uuid(str(key)) == key
    assert as_uuid("not-an-id") is None
    assert as_uuid(None) is None


def test_a_naive_time_is_read_as_utc():
    naive = dt.datetime(2026, 1, 31, 12, 0)
    assert as_utc(naive) == naive.replace(tzinfo=dt.timezone.utc)
    assert as_utc(None) is None


@pytest.mark.parametrize("ident", ["not-an-id", str(uuid.uuid4())])
def test_a_malformed_or_unknown_id_is_not_found(db, ident):
    with pytest.raises(CustomerNotFound):
        get_or_raise(db.session, Customer, ident, CustomerNotFound)


def test_a_known_id_is_found_as_text(db, create_customer):
    customer = create_customer()
    assert get_or_raise(db.session, Customer, str(customer.id), CustomerNotFound) is customer
