"""Column types for encrypted data."""

from __future__ import annotations

import sqlalchemy as sa


class Ciphertext(sa.types.TypeDecorator):
    """A column holding an encrypted value: raw bytes, passed straight through.

    Both SQLite and psycopg accept and return ``bytes`` for BLOB/bytea, so
    the generic binary wrapping (a Python call per value) is skipped.
    """

    impl = sa.LargeBinary
    cache_ok = True

    def bind_processor(self, dialect):
        return None

    def result_processor(self, dialect, coltype):
        def to_bytes(value):
            return value if value is None or type(value) is bytes else bytes(value)

        return None if dialect.name == "sqlite" else to_bytes
