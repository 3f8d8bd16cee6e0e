"""Extension instances, created unbound and bound in ``create_app``."""

from __future__ import annotations

import select
import time
from typing import Any, ClassVar

import sqlalchemy as sa
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as FlaskSession
from flask_wtf.csrf import CSRFProtect
from limits.storage import MemoryStorage
from sqlalchemy.orm import DeclarativeBase, MappedAsDataclass  # noqa: F401

from consentmgr.runtime import bind_session, runtime

KEYS_BIND = "keys"


class Session(FlaskSession):
    """Routes the key store to its own database only when one is configured.

    Wrapped data keys live under the ``keys`` bind so they can sit in a
    separate database (and separate backups). Without
    ``CONSENTMGR_KEYS_DATABASE_URL`` they share the main engine, and so the
    main transaction: a second connection to the same SQLite file would
    deadlock against the first.
    """

    def __init__(self, db: SQLAlchemy, **kwargs: Any) -> None:
        super().__init__(db, **kwargs)
        # Opened inside an app context (Flask-SQLAlchemy scopes sessions to
        # it): the services working in this session get that app's runtime.
        bind_session(self, runtime())

    def get_bind(self, mapper: Any = None, clause: Any = None, bind: Any = None, **kwargs: Any):
        if bind is None and KEYS_BIND not in self._db.engines:
            table = _table_of(mapper, clause)
            if table is not None and table.metadata.info.get("bind_key") == KEYS_BIND:
                return self._db.engines[None]
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)


def _table_of(mapper: Any, clause: Any) -> sa.Table | None:
    if mapper is not None:
        local = sa.inspect(mapper).local_table
        if isinstance(local, sa.Table):
            return local
    if isinstance(clause, sa.Table):
        return clause
    if isinstance(clause, sa.sql.dml.UpdateBase) and isinstance(clause.table, sa.Table):
        return clause.table
    return None


class Base(DeclarativeBase):
    """Declarative base with deterministic constraint names for migrations."""

    metadata = sa.MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


db = SQLAlchemy(model_class=Base, session_options={"class_": Session})
migrate = Migrate()
# CSRF protection for every form; the JSON API (bearer keys, no cookies) is exempt.
csrf = CSRFProtect()


class SweptMemoryStorage(MemoryStorage):
    """limits' in-process storage, with expired windows swept inline instead of by a thread.

    ``MemoryStorage`` starts a ``threading.Timer`` on the first hit after each
    10 ms, so a busy process starts a thread every few requests and waits
    for it to start: measured at a mean 0.58 ms per hit beside a CPU-bound
    request (half the cost of a consent check). Counts are unchanged:
    ``get`` already drops a window that has expired; the sweep only frees
    windows nobody asks for again, so once a second is enough. The hook is
    the parent's private scheduler (``tests/web/test_limits.py`` fails if a
    new version of limits renames it).
    """

    STORAGE_SCHEME: ClassVar[list[str]] = ["consentmgr+memory"]
    SWEEP_EVERY = 1.0

    def __init__(self, uri: str | None = None, **options: Any) -> None:
        super().__init__(uri, **options)
        self.timer.cancel()
        self._next_sweep = time.monotonic() + self.SWEEP_EVERY

    # The parent's private scheduler, called on every hit (name-mangled).
    def _MemoryStorage__schedule_expiry(self) -> None:
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + self.SWEEP_EVERY
            self._MemoryStorage__expire_events()


def limiter_storage_uri(url: str) -> str:
    """Flask-Limiter's storage URI for ``CONSENTMGR_RATELIMIT_STORAGE_URL`` (memory: the swept one)."""
    return "consentmgr+memory://" if url.startswith("memory://") else url


# Storage comes from RATELIMIT_STORAGE_URI (CONSENTMGR_RATELIMIT_STORAGE_URL).
# Limits are declared where they apply (sign-in forms, the API).
limiter = Limiter(key_func=get_remote_address)


def tune_engines() -> None:
    """Per-dialect connection set-up for every engine of the current app.

    SQLite: write-ahead-log mode. In WAL mode readers never wait for a
    writer and a read takes no file lock: gunicorn's workers keep answering
    consent checks while another worker writes. The mode is stored in the
    database file, so after the first connection the PRAGMA only reads it
    back. PostgreSQL: a connection is checked before it is lent
    (:func:`_discard_if_dead`).
    """
    for engine in db.engines.values():
        if engine.dialect.name == "sqlite" and not sa.event.contains(
                engine, "connect", _sqlite_wal):
            sa.event.listen(engine, "connect", _sqlite_wal)
        if engine.dialect.name == "postgresql":
            discard_dead_connections(engine)


def discard_dead_connections(engine: sa.Engine) -> None:
    """Check each connection's socket before the pool lends it (:func:`_discard_if_dead`)."""
    if not sa.event.contains(engine, "checkout", _discard_if_dead):
        sa.event.listen(engine, "checkout", _discard_if_dead)


def _discard_if_dead(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Lend a pooled PostgreSQL connection only if its socket has nothing to say.

    SQLAlchemy's ``pool_pre_ping`` costs a round trip per checkout, so one
    in seven of a consent write's calls to the database. This check costs
    none: an idle connection outside a ``LISTEN`` receives nothing unless the
    server went away (a terminated backend sends an error and closes, a
    restart or a cut network closes), so a readable socket -- or a closed
    one -- means the connection is discarded and the pool opens a new one
    (``DisconnectionError`` makes it retry). A false alarm (say a parameter
    status message) costs one reconnect. What it cannot see is a peer that
    vanished without closing; pre-ping would wait on that one too.
    """
    if dbapi_connection.closed:
        raise sa.exc.DisconnectionError("the connection is closed")
    poller = select.poll()
    poller.register(dbapi_connection.fileno(), select.POLLIN | select.POLLPRI)
    if poller.poll(0):
        raise sa.exc.DisconnectionError("the server spoke on an idle connection")


def _sqlite_wal(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
    finally:
        cursor.close()
