"""Extension instances, created unbound and bound in ``create_app``."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as FlaskSession
from flask_wtf.csrf import CSRFProtect
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
# Storage comes from RATELIMIT_STORAGE_URI (CONSENTMGR_RATELIMIT_STORAGE_URL).
# Limits are declared where they apply (sign-in forms, the API).
limiter = Limiter(key_func=get_remote_address)


def tune_sqlite_engines() -> None:
    """Put every SQLite database of the current app in write-ahead-log mode.

    In WAL mode readers never wait for a writer and a read takes no file
    lock: gunicorn's workers keep answering consent checks while another
    worker writes. The mode is stored in the database file, so after the
    first connection the PRAGMA only reads it back. (PostgreSQL needs none.)
    """
    for engine in db.engines.values():
        if engine.dialect.name == "sqlite" and not sa.event.contains(
                engine, "connect", _sqlite_wal):
            sa.event.listen(engine, "connect", _sqlite_wal)


def _sqlite_wal(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
    finally:
        cursor.close()
