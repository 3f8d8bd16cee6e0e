"""Column types for encrypted data."""

from __future__ import annotations

import sqlalchemy as sa


def _as_bytearray(value: bytes | None) -> bytearray | None:
    return None if value is None else bytearray(value)


class Ciphertext(sa.types.TypeDecorator):
    """A column holding an encrypted value: raw bytes, with as little handling as possible.

    SQLAlchemy's generic binary wrapping (a Python call per value) is
    skipped both ways: SQLite and psycopg return ``bytes`` for BLOB/bytea
    as they are. Writing to SQLite, values are passed as ``bytearray``:
    CPython's ``sqlite3`` binds int, float, str and bytearray directly but
    sends every ``bytes`` parameter through its adapter registry first
    (``need_adapt`` in ``Modules/_sqlite/cursor.c``), which costs several
    times the copy. The stored BLOB is the same.
    """

    impl = sa.LargeBinary
    cache_ok = True

    def bind_processor(self, dialect):
        return _as_bytearray if dialect.name == "sqlite" else None

    def result_processor(self, dialect, coltype):
        def to_bytes(value):
            return value if value is None or type(value) is bytes else bytes(value)

        return None if dialect.name == "sqlite" else to_bytes
