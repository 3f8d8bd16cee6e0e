"""Shared column types and lookups: timestamps read back in UTC, ids that are simply not found."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

import sqlalchemy as sa

from consentmgr.customers.models import Customer
from consentmgr.customers.services import CustomerNotFound
from consentmgr.jobs.models import JobSchedule
from consentmgr.sql import PreparedUpsert, as_uuid, as_utc, get_or_raise

SCHEDULES = JobSchedule.__table__
NOON = dt.datetime(2026, 1, 31, 12, 0, tzinfo=dt.timezone.utc)


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


def _schedule(db, name):
    return db.session.execute(sa.select(SCHEDULES).where(SCHEDULES.c.name == name)).one()


def test_a_prepared_upsert_inserts_then_overwrites_the_columns_outside_the_key(db):
    upsert = PreparedUpsert(SCHEDULES, ["name", "next_run_at", "last_run_at"], key=["name"])
    upsert(db.session, {"name": "purge", "next_run_at": NOON, "last_run_at": None})
    later = NOON + dt.timedelta(hours=1)
    upsert(db.session, {"name": "purge", "next_run_at": later, "last_run_at": NOON})
    row = _schedule(db, "purge")
    assert (row.next_run_at, row.last_run_at) == (later, NOON)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SCHEDULES)) == 1


def test_a_prepared_upsert_with_nothing_to_update_keeps_the_existing_row(db):
    upsert = PreparedUpsert(SCHEDULES, ["name", "next_run_at"], key=["name"], update=[])
    upsert(db.session, {"name": "purge", "next_run_at": NOON})
    upsert(db.session, {"name": "purge", "next_run_at": NOON + dt.timedelta(days=1)})
    assert _schedule(db, "purge").next_run_at == NOON


def test_a_prepared_upsert_is_compiled_once_and_then_served_from_the_cache(db):
    upsert = PreparedUpsert(SCHEDULES, ["name", "next_run_at", "last_run_at"], key=["name"])
    engine = db.session.get_bind(clause=SCHEDULES)
    hits = []

    def note_cache(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO JOB_SCHEDULES"):
            hits.append(context.cache_hit == context.dialect.CACHE_HIT)

    sa.event.listen(engine, "before_cursor_execute", note_cache)
    try:
        for hour in range(3):
            upsert(db.session, {"name": f"job-{hour}", "next_run_at": NOON, "last_run_at": None})
    finally:
        sa.event.remove(engine, "before_cursor_execute", note_cache)
    assert hits[1:] == [True, True]
