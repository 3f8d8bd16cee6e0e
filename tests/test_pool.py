"""The main pool lends no connection the server has dropped, without a round trip per checkout."""

from __future__ import annotations

import time

import sqlalchemy as sa

from consentmgr.extensions import _discard_if_dead, discard_dead_connections
from tests.conftest import postgresql_only


def _backend_pid(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(sa.text("SELECT pg_backend_pid()"))


def _terminate(admin_engine: sa.Engine, pid: int) -> None:
    """Terminate a backend and wait until it has gone (its goodbye is then on the socket)."""
    with admin_engine.connect() as admin:
        assert admin.scalar(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        admin.commit()
        deadline = time.monotonic() + 10
        while admin.scalar(sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"),
                           {"pid": pid}):
            assert time.monotonic() < deadline, "the backend did not exit"
            admin.rollback()
            time.sleep(0.01)


@postgresql_only
def test_lending_a_connection_sends_nothing_to_the_server(db):
    statements: list[str] = []

    def seen(conn, cursor, statement, *rest):
        statements.append(statement)

    _backend_pid(db.engine)  # a connection is in the pool
    sa.event.listen(db.engine, "before_cursor_execute", seen)
    try:
        _backend_pid(db.engine)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", seen)
    assert db.engine.pool._pre_ping is False
    assert statements == ["SELECT pg_backend_pid()"]  # no ping before it


@postgresql_only
def test_a_connection_whose_backend_was_terminated_is_replaced_before_it_is_lent(db):
    # One connection, so the one lent next is the one that was terminated.
    engine = sa.create_engine(db.engine.url, pool_size=1, max_overflow=0)
    admin = sa.create_engine(db.engine.url, poolclass=sa.pool.NullPool)
    discard_dead_connections(engine)
    try:
        pooled = _backend_pid(engine)  # now idle in the pool
        _terminate(admin, pooled)

        replaced = _backend_pid(engine)  # no error: the dead connection was never lent

        assert replaced != pooled
        assert _backend_pid(engine) == replaced  # the new one is kept and reused
    finally:
        engine.dispose()
        admin.dispose()


@postgresql_only
def test_the_app_engine_checks_its_connections(db):
    assert sa.event.contains(db.engine, "checkout", _discard_if_dead)
