"""Column types and statements every area shares, the same on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Callable, Iterable, Mapping, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, make_transient_to_detached


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.timezone.utc)


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """``value`` as an aware UTC datetime; a naive value is taken to be UTC already."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


class TZDateTime(sa.types.TypeDecorator):
    """A timestamp stored with its zone and always read back as aware UTC.

    PostgreSQL keeps the zone; SQLite has none and hands back naive values.
    Every timestamp here is written in UTC, so reading one as UTC is exact,
    and no caller needs its own "naive means UTC" helper.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> Any:
        if value is not None and value.tzinfo is not None and dialect.name == "sqlite":
            return value.astimezone(dt.timezone.utc)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect: sa.Dialect) -> Any:
        return as_utc(value)


T = TypeVar("T")


def as_uuid(value: Any) -> uuid.UUID | None:
    """``value`` as a UUID (ids arrive as text from URLs and forms); None when it is not one."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def get_or_raise(session: Session, model: type[T], ident: Any, missing: Callable[[], Exception],
                 **options: Any) -> T:
    """The ``model`` row with primary key ``ident``; ``missing()`` is raised for an unknown id.

    A malformed id is unknown too: to the caller it is simply not found.
    """
    key = as_uuid(ident)
    row = session.get(model, key, **options) if key is not None else None
    if row is None:
        raise missing()
    return row


def insert_stored(session: Session, instance: Any) -> Any:
    """INSERT ``instance`` with one Core statement and attach it to ``session`` as stored.

    For the hot write paths: the ORM's unit of work costs more CPU than the
    statement itself. Column attributes left unset (a generated id, a
    default, a NULL) come back through ``RETURNING``, so reading the
    instance afterwards issues no query; expiring it reloads it as usual.
    Relationships are not cascaded: set foreign keys directly.
    """
    mapper = sa.inspect(type(instance))
    state = instance.__dict__
    values = {attr.columns[0].key: state[attr.key] for attr in mapper.column_attrs
              if attr.key in state}
    missing = [attr for attr in mapper.column_attrs if attr.key not in state]
    statement = sa.insert(mapper.local_table)
    if missing:
        statement = statement.returning(*(attr.columns[0] for attr in missing))
    result = session.execute(statement, values)
    if missing:
        for attr, value in zip(missing, result.one()):
            setattr(instance, attr.key, value)
    return attach_stored(session, instance)


def column_params(instance: Any, prefix: str = "") -> dict[str, Any]:
    """``instance``'s column values as bind parameters named ``prefix + column``; unset ones None."""
    state = instance.__dict__
    return {prefix + attr.columns[0].key: state.get(attr.key)
            for attr in sa.inspect(type(instance)).column_attrs}


def attach_stored(session: Session, instance: Any) -> Any:
    """Attach ``instance``, just INSERTed by a Core statement, to ``session`` as a stored row."""
    make_transient_to_detached(instance)
    session.add(instance)
    return instance


def _insert_for(session: Session, table: sa.Table):
    dialect = session.get_bind(clause=table).dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"upserts are written for SQLite and PostgreSQL, not {dialect}")


def upsert(session: Session, table: sa.Table, values: Mapping[str, Any], *,
           key: Iterable[str], update: Iterable[str] | None = None) -> None:
    """Insert ``values``, or update the row with the same ``key`` columns.

    ``update`` names the columns a conflict overwrites (default: every
    column outside the key); an empty ``update`` leaves the existing row as
    it is (``ON CONFLICT DO NOTHING``, which waits for a concurrent insert
    of the same key and then yields to it).
    """
    key = list(key)
    statement = _insert_for(session, table).values(dict(values))
    columns = [c for c in values if c not in key] if update is None else list(update)
    if columns:
        statement = statement.on_conflict_do_update(
            index_elements=key, set_={c: statement.excluded[c] for c in columns})
    else:
        statement = statement.on_conflict_do_nothing(index_elements=key)
    session.execute(statement)


class PreparedUpsert:
    """An :func:`upsert` of one table built once per dialect, its values as bind parameters.

    :func:`upsert` builds a new statement (and its cache key) on every call;
    this one is built the first time a dialect asks and reused, so
    SQLAlchemy's compiled cache hits every time. It runs on the session's
    connection (the caller's transaction) but, unlike :func:`upsert`, does
    not autoflush: pending objects are written at the caller's next flush,
    so flush first if the row refers to one (a foreign key).
    """

    def __init__(self, table: sa.Table, columns: Iterable[str], *, key: Iterable[str],
                 update: Iterable[str] | None = None) -> None:
        self.table = table
        self.columns = list(columns)
        self.key = list(key)
        self.update = [c for c in self.columns if c not in self.key] if update is None else list(update)
        self._statements: dict[str, sa.Insert] = {}

    def statement(self, dialect: str) -> sa.Insert:
        """The upsert for ``dialect`` (``postgresql`` or ``sqlite``), its values as bind parameters."""
        statement = self._statements.get(dialect)
        if statement is None:
            insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}.get(dialect)
            if insert is None:
                raise NotImplementedError(f"upserts are written for SQLite and PostgreSQL, not {dialect}")
            statement = insert(self.table).values(
                {name: sa.bindparam(name, type_=self.table.c[name].type) for name in self.columns})
            if self.update:
                statement = statement.on_conflict_do_update(
                    index_elements=self.key, set_={c: statement.excluded[c] for c in self.update})
            else:
                statement = statement.on_conflict_do_nothing(index_elements=self.key)
            self._statements[dialect] = statement
        return statement

    def __call__(self, session: Session, values: Mapping[str, Any]) -> None:
        """Insert ``values`` (one value for every column named), or update the existing row."""
        connection = session.connection(bind_arguments={"clause": self.table})
        connection.execute(self.statement(connection.dialect.name), dict(values))
