"""PreparedSelect: the consent check's statement, run straight on the driver."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa

from consentmgr.actors import Actor
from consentmgr.consent import services as consent
from consentmgr.consent.checks import CHECK_QUERY
from consentmgr.prepared import PreparedSelect
from tests.conftest import postgresql_only

ACTOR = Actor("system", "test")


def test_it_answers_as_the_orm_would(db, publish_policy_files, create_customer):
    publish_policy_files()
    customer = create_customer()
    consent.grant_consent(customer, "marketing-email", actor=ACTOR, channel="import")
    db.session.commit()
    params = {"customer_id": customer.id, "purpose": "marketing-email"}

    expected = tuple(db.session.execute(CHECK_QUERY.statement, params).one())
    db.session.rollback()
    got = CHECK_QUERY.first(db.engine, params)

    assert got == expected
    customer_status, state_status, policy_version, updated_at, expires_at = got
    assert str(getattr(customer_status, "value", customer_status)) == "active"
    assert str(getattr(state_status, "value", state_status)) == "given"
    assert policy_version
    assert isinstance(updated_at, dt.datetime)
    assert updated_at.utcoffset() == dt.timedelta(0)  # the column type's result processing applies
    assert expires_at is None  # the shipped marketing purpose has no term


def test_no_row_is_none(db, publish_policy_files):
    publish_policy_files()
    params = {"customer_id": uuid.uuid4(), "purpose": "marketing-email"}
    assert CHECK_QUERY.first(db.engine, params) is None


def test_the_check_inside_a_unit_of_work_sees_its_uncommitted_changes(
        db, publish_policy_files, create_customer):
    publish_policy_files()
    customer = create_customer()
    consent.grant_consent(customer, "marketing-email", actor=ACTOR, channel="import")
    # Not committed: only the session's own connection can see the grant.
    assert consent.check_consent(customer.id, "marketing-email").allowed is True
    db.session.rollback()
    assert consent.check_consent(customer.id, "marketing-email").allowed is False


def test_only_sqlite_reads_on_the_apps_own_engine(db):
    """SQLite is in-process: no round trip to save, and an in-memory database needs its pool."""
    on_own_engine = CHECK_QUERY._reader(db.engine) is db.engine
    assert on_own_engine is (db.engine.dialect.name == "sqlite")


@postgresql_only
def test_postgresql_reads_on_an_autocommit_pool_without_pre_ping(db):
    reader = CHECK_QUERY._reader(db.engine)
    assert reader is not db.engine
    assert reader is CHECK_QUERY._reader(db.engine)  # one reader per engine
    assert reader.pool._pre_ping is False
    connection = reader.raw_connection()
    try:
        assert connection.dbapi_connection.autocommit is True  # no BEGIN, no ROLLBACK
    finally:
        connection.close()


@postgresql_only
def test_a_connection_the_server_dropped_is_replaced_and_the_read_retried(db):
    backend = PreparedSelect(sa.select(sa.func.pg_backend_pid().label("pid"),
                                       sa.bindparam("marker", type_=sa.Integer)))
    first_pid, marker = backend.first(db.engine, {"marker": 7})
    assert marker == 7
    with db.engine.connect() as admin:
        admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": first_pid})
        admin.commit()

    second_pid, marker = backend.first(db.engine, {"marker": 8})

    assert marker == 8
    assert second_pid != first_pid


def test_an_error_that_is_not_a_lost_connection_is_raised(db):
    failing = PreparedSelect(sa.select(sa.literal_column("no_such_column")).select_from(
        sa.table("customers")).where(sa.bindparam("x", type_=sa.Integer) == 1))
    with pytest.raises(Exception) as caught:
        failing.first(db.engine, {"x": 1})
    assert "no_such_column" in str(caught.value)
    # The pool is still usable afterwards.
    assert PreparedSelect(sa.select(sa.bindparam("y", type_=sa.Integer))).first(
        db.engine, {"y": 3}) == (3,)


def test_sqlite_runs_in_write_ahead_log_mode(db):
    """Readers never wait for a writer (one gunicorn worker writes, others check consent)."""
    from consentmgr.extensions import _sqlite_wal

    if db.engine.dialect.name == "sqlite":
        assert db.session.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
    else:
        assert not sa.event.contains(db.engine, "connect", _sqlite_wal)


# ------------------------------------------------------- inside a unit of work

_JOB_NAME = sa.bindparam("name", type_=sa.String)


def _insert_schedule() -> PreparedSelect:
    schedules = sa.table("job_schedules", sa.column("name"), sa.column("next_run_at"))
    return PreparedSelect(sa.insert(schedules).values(
        name=_JOB_NAME, next_run_at=sa.bindparam("at", type_=sa.DateTime(timezone=True)))
        .returning(schedules.c.name))


def test_first_in_runs_in_the_sessions_transaction(db):
    """It sees and makes the session's uncommitted changes; they roll back with it."""
    insert = _insert_schedule()
    at = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    count = sa.text("SELECT count(*) FROM job_schedules WHERE name = :name")

    assert insert.first_in(db.session, {"name": "prepared-test", "at": at}) == ("prepared-test",)
    assert db.session.execute(count, {"name": "prepared-test"}).scalar() == 1  # same transaction
    seen = PreparedSelect(sa.select(sa.func.count()).select_from(sa.table("job_schedules"))
                          .where(sa.column("name") == _JOB_NAME))
    assert seen.first_in(db.session, {"name": "prepared-test"}) == (1,)
    db.session.rollback()

    assert db.session.execute(count, {"name": "prepared-test"}).scalar() == 0


def test_first_in_raises_driver_errors_as_sqlalchemy_does(db):
    """A unique violation is SQLAlchemy's IntegrityError (what error handlers catch);
    the session can roll back and go on."""
    insert = _insert_schedule()
    at = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    insert.first_in(db.session, {"name": "prepared-twice", "at": at})

    with pytest.raises(sa.exc.IntegrityError) as caught:
        insert.first_in(db.session, {"name": "prepared-twice", "at": at})

    assert isinstance(caught.value.orig, db.engine.dialect.loaded_dbapi.IntegrityError)
    db.session.rollback()
    assert PreparedSelect(sa.select(sa.bindparam("y", type_=sa.Integer))).first_in(
        db.session, {"y": 5}) == (5,)
    db.session.rollback()
