"""Every column encrypted under an owner's data key, found from the models themselves.

A model with encrypted fields is an
:class:`~consentmgr.keys.fields.EncryptedRecord` and declares each field as
an :class:`~consentmgr.keys.fields.EncryptedField`; the mapper knows them
all. Work that must reach every value of an owner -- re-encrypting under a
new data key -- reads this registry instead of a hand-kept list, so a
field added tomorrow is rotated without anyone remembering to add it.

Values sealed under keys of their own (the mail outbox, sessions) are not
here: they are not under an owner's data key.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from consentmgr.extensions import db
from consentmgr.keys.fields import EncryptedField, EncryptedRecord


@dataclass(frozen=True)
class EncryptedTable:
    """One table's encrypted columns and the column naming their owner."""

    model: type
    table: sa.Table
    owner_column: str
    columns: tuple[str, ...]

    @property
    def name(self) -> str:
        """The table's name (what every value's associated data names)."""
        return self.table.name


def _encrypted_fields(cls: type) -> list[EncryptedField]:
    seen: dict[str, EncryptedField] = {}
    for klass in reversed(cls.__mro__):
        for attr in vars(klass).values():
            if isinstance(attr, EncryptedField):
                seen[attr.name] = attr
    return list(seen.values())


def encrypted_tables() -> list[EncryptedTable]:
    """Every mapped table holding values under an owner's data key, by table name."""
    found: dict[str, EncryptedTable] = {}
    for mapper in db.Model.registry.mappers:
        cls = mapper.class_
        if not issubclass(cls, EncryptedRecord) or not isinstance(mapper.local_table, sa.Table):
            continue
        fields = _encrypted_fields(cls)
        if not fields:
            continue
        columns = tuple(mapper.attrs[field.storage].columns[0].name for field in fields)
        table = mapper.local_table
        if cls.data_key_owner_column not in table.c or "id" not in table.c:
            raise TypeError(f"{cls.__name__}: no '{cls.data_key_owner_column}' or 'id' column "
                            "to find its owner's rows by (set data_key_owner_column)")
        found[table.name] = EncryptedTable(cls, table, cls.data_key_owner_column, columns)
    return [found[name] for name in sorted(found)]
