"""A statement compiled once per engine and run straight on the driver.

The consent check is the one statement other systems call thousands of
times a second. Through SQLAlchemy's Core it costs ~100 µs of Python per
call (execution context, result metadata, the connection wrapper) around a
driver call of ~20 µs; here the statement is compiled once per engine,
parameters and results go through the same type processors SQLAlchemy
itself would apply, and the call borrows a pooled DBAPI connection in
autocommit mode, so one round trip answers it: no ping, no BEGIN, no
ROLLBACK.

:meth:`PreparedSelect.first` is only for single-row reads outside a unit of
work. :meth:`PreparedSelect.first_in` runs inside a session's transaction,
on its connection, for the consent write's own statements (the customer's
status, the one-statement write): it sees and makes the session's
uncommitted changes, which commit or roll back with the session.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import sqlalchemy as sa
from sqlalchemy.orm import Session

Processor = Callable[[Any], Any]


@dataclass(frozen=True)
class _Bind:
    key: str  # the name callers pass
    default: Any  # a literal's own value; _REQUIRED for a bindparam without one
    process: Processor | None


_REQUIRED = object()


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...] | None  # positional order; None for named paramstyles
    binds: dict[str, _Bind]  # by the name rendered in the SQL
    results: tuple[Processor | None, ...]


class PreparedSelect:
    """Run ``statement`` (with ``bindparam`` parameters) and return its first row or None.

    ``statement`` is a SELECT, or an INSERT/UPDATE with RETURNING (for :meth:`first_in`).
    """

    def __init__(self, statement: sa.Select[Any] | sa.Insert | sa.Update) -> None:
        self.statement = statement
        self._by_engine: weakref.WeakKeyDictionary[sa.Engine, _Compiled] = (
            weakref.WeakKeyDictionary()
        )
        self._readers: weakref.WeakKeyDictionary[sa.Engine, sa.Engine] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    def _compile(self, engine: sa.Engine) -> _Compiled:
        with self._lock:
            found = self._by_engine.get(engine)
            if found is not None:
                return found
            dialect = engine.dialect
            compiled = self.statement.compile(dialect=dialect)
            binds = {
                rendered: _Bind(param.key,
                                _REQUIRED if param.required else param.effective_value,
                                param.type.dialect_impl(dialect).bind_processor(dialect))
                for param, rendered in compiled.bind_names.items()
            }
            results = tuple(
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in self.statement.exported_columns
            )
            names = tuple(compiled.positiontup) if compiled.positional else None
            found = _Compiled(compiled.string, names, binds, results)
            self._by_engine[engine] = found
            return found

    def _arguments(self, prepared: _Compiled, params: Mapping[str, Any]) -> Any:
        values = {}
        for name, bind in prepared.binds.items():
            value = params[bind.key] if bind.default is _REQUIRED else params.get(bind.key, bind.default)
            values[name] = bind.process(value) if bind.process is not None else value
        return (tuple(values[name] for name in prepared.names)
                if prepared.names is not None else values)

    @staticmethod
    def _converted(prepared: _Compiled, row: Any) -> tuple[Any, ...] | None:
        if row is None:
            return None
        return tuple(process(value) if process is not None else value
                     for process, value in zip(prepared.results, row))

    def first(self, engine: sa.Engine, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The first row (values converted as the column types say), or None."""
        prepared = self._by_engine.get(engine) or self._compile(engine)
        arguments = self._arguments(prepared, params)
        reader = self._reader(engine)
        for attempt in (1, 2):
            connection = reader.raw_connection()
            try:
                cursor = connection.cursor()
                try:
                    reader.dialect.do_execute(cursor, prepared.sql, arguments, None)
                    row = cursor.fetchone()
                finally:
                    cursor.close()
                break
            except reader.dialect.loaded_dbapi.Error as exc:
                # No pre-ping on this pool: a connection the server dropped
                # (restart, idle timeout) fails here instead; retry once on a new one.
                disconnected = reader.dialect.is_disconnect(exc, connection.dbapi_connection, None)
                connection.invalidate(exc)
                if attempt == 2 or not disconnected:
                    raise
            finally:
                connection.close()  # back to the pool
        return self._converted(prepared, row)

    def first_in(self, session: Session, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The first row, run in ``session``'s transaction on its connection (begun if need be).

        A driver error is raised as SQLAlchemy would raise it (``OperationalError``
        for an outage, ``IntegrityError``...), so callers and error pages see
        no difference; the unit of work rolls the transaction back.
        """
        connection = session.connection(bind_arguments={"clause": self.statement})
        engine = connection.engine
        prepared = self._by_engine.get(engine) or self._compile(engine)
        arguments = self._arguments(prepared, params)
        dialect = engine.dialect
        driver = connection.connection.dbapi_connection
        cursor = driver.cursor()
        try:
            # Through the dialect, as SQLAlchemy runs a statement (what profilers hook).
            dialect.do_execute(cursor, prepared.sql, arguments, None)
            row = cursor.fetchone()
        except dialect.loaded_dbapi.Error as exc:
            gone = dialect.is_disconnect(exc, driver, cursor)
            if gone:  # as SQLAlchemy does: the pool must not hand this connection out again
                connection.invalidate(exc)
            raise sa.exc.DBAPIError.instance(
                prepared.sql, None, exc, dialect.loaded_dbapi.Error,
                hide_parameters=True, connection_invalidated=gone, dialect=dialect) from exc
        finally:
            cursor.close()
        return self._converted(prepared, row)

    def _reader(self, engine: sa.Engine) -> sa.Engine:
        """The engine to read on: ``engine`` itself for SQLite, else an autocommit twin.

        SQLite runs in-process: there is no round trip to save (and an
        in-memory database must stay on its own pool). A server database
        gets an engine on the same URL in autocommit mode without pre-ping:
        one round trip per check instead of three (ping, SELECT, ROLLBACK).
        """
        if engine.dialect.name == "sqlite":
            return engine
        reader = self._readers.get(engine)
        if reader is None:
            with self._lock:
                reader = self._readers.get(engine)
                if reader is None:
                    reader = sa.create_engine(engine.url, isolation_level="AUTOCOMMIT",
                                              pool_pre_ping=False, hide_parameters=True)
                    self._readers[engine] = reader
        return reader
