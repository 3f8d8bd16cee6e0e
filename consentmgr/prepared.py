"""A read-only SELECT compiled once per engine and run straight on the driver.

The consent check is the one statement other systems call thousands of
times a second. Through SQLAlchemy's Core it costs ~100 µs of Python per
call (execution context, result metadata, the connection wrapper) around a
driver call of ~20 µs; here the statement is compiled once per engine,
parameters and results go through the same type processors SQLAlchemy
itself would apply, and the call borrows a pooled DBAPI connection in
autocommit mode, so one round trip answers it: no ping, no BEGIN, no
ROLLBACK.

Only for single-row reads outside a unit of work: anything that must see
the session's uncommitted changes goes through the session.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import sqlalchemy as sa

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
    """Run ``statement`` (with ``bindparam`` parameters) and return its first row or None."""

    def __init__(self, statement: sa.Select[Any]) -> None:
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
                for column in self.statement.selected_columns
            )
            names = tuple(compiled.positiontup) if compiled.positional else None
            found = _Compiled(compiled.string, names, binds, results)
            self._by_engine[engine] = found
            return found

    def first(self, engine: sa.Engine, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The first row (values converted as the column types say), or None."""
        prepared = self._by_engine.get(engine) or self._compile(engine)
        values = {}
        for name, bind in prepared.binds.items():
            value = params[bind.key] if bind.default is _REQUIRED else params.get(bind.key, bind.default)
            values[name] = bind.process(value) if bind.process is not None else value
        arguments: Any = (tuple(values[name] for name in prepared.names)
                          if prepared.names is not None else values)
        reader = self._reader(engine)
        for attempt in (1, 2):
            connection = reader.raw_connection()
            try:
                cursor = connection.cursor()
                try:
                    cursor.execute(prepared.sql, arguments)
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
        if row is None:
            return None
        return tuple(process(value) if process is not None else value
                     for process, value in zip(prepared.results, row))

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
