"""Encrypted model attributes.

A model declares the stored ciphertext as a private ``LargeBinary`` column
and exposes the clear value through :class:`EncryptedField`::

    _email: Mapped[bytes | None] = mapped_column("email", sa.LargeBinary)
    email = EncryptedField(TEXT)

Setting ``customer.email`` encrypts at once under the owner's data key;
reading decrypts (once per loaded value) with the key unwrapped for this
unit of work. Only ciphertext ever reaches the database.

This is the hot path of every list screen and bulk import: the session,
key and row id found for a row's first field are kept on the row (until
the unit of work ends) so its other fields cost one AES-GCM call each.
"""

from __future__ import annotations

import uuid
from typing import Any, Iterator

from sqlalchemy import inspect
from sqlalchemy.orm import Session, object_session

from consentmgr.crypto import DecryptionError, FieldCipher, KeyConfigError, read_header
from consentmgr.crypto.envelope import HEADER_BYTES
from consentmgr.crypto.codecs import Codec
from consentmgr.extensions import db
from consentmgr.keys.services import DataKeyCache, key_cache
from consentmgr.keys.types import Ciphertext  # noqa: F401  (re-exported for models)

_PLAIN = "_consentmgr_plain"  # {field: (ciphertext, clear value)} on the instance
_ROW = "_consentmgr_row"  # the row's _RowKeys
_MISSING = object()


def is_new(obj: Any) -> bool:
    """True for an object not yet in the database (transient or pending)."""
    return obj._sa_instance_state.key is None


class EncryptedRecord:
    """Mixin for models with encrypted fields. Subclasses name their key owner."""

    def data_key_owner(self) -> tuple[uuid.UUID, bool]:
        """``(owner id, owner is new)``: whose data key encrypts this row."""
        raise NotImplementedError

    def _ensure_id(self) -> uuid.UUID:
        # The row id is part of every value's associated data, so it must
        # exist before the first field is encrypted: ids are client-side UUIDs.
        row_id = self.__dict__.get("id")
        if row_id is None:
            row_id = getattr(self, "id", None)
            if row_id is None:
                row_id = self.id = uuid.uuid4()
        return row_id


class _RowKeys:
    """What one row's fields share within a unit of work."""

    __slots__ = ("cache", "owner_id", "row_id", "row", "write", "read")

    def __init__(self, cache: DataKeyCache, owner_id: uuid.UUID, row_id: uuid.UUID) -> None:
        self.cache = cache
        self.owner_id = owner_id
        self.row_id = row_id
        self.row = str(row_id).encode()
        self.write: FieldCipher | None = None
        self.read: dict[bytes, FieldCipher] = {}


def _owners_in(session: Session) -> Iterator[uuid.UUID]:
    """Owners of every encrypted record loaded in this session."""
    for obj in list(session.identity_map.values()):
        if isinstance(obj, EncryptedRecord):
            owner_id = obj.data_key_owner()[0]
            if owner_id is not None:
                yield owner_id


def _row_keys(instance: Any) -> _RowKeys:
    row_id = instance._ensure_id()
    owner_id = instance.data_key_owner()[0]
    keys = instance.__dict__.get(_ROW)
    if keys is None or keys.cache.closed or keys.owner_id != owner_id or keys.row_id != row_id:
        session = object_session(instance) or db.session()
        keys = instance.__dict__[_ROW] = _RowKeys(key_cache(session), owner_id, row_id)
    return keys


class EncryptedField:
    """A clear-text view over an encrypted column (see module docstring)."""

    def __init__(self, codec: Codec) -> None:
        self.codec = codec
        self._names: dict[type, tuple[str, str, bytes]] = {}

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.storage = f"_{name}"

    def _column(self, cls: type) -> tuple[str, str, bytes]:
        """Table name, column name, and the associated-data prefix for them."""
        names = self._names.get(cls)
        if names is None:
            column = inspect(cls).attrs[self.storage].columns[0]
            # NUL separators: no two (table, column, row) encode alike.
            prefix = f"\x00{column.table.name}\x00{column.name}\x00".encode()
            names = self._names[cls] = (column.table.name, column.name, prefix)
        return names

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        state = instance.__dict__
        blob = state.get(self.storage, _MISSING)
        if blob is _MISSING:  # expired or deferred: let SQLAlchemy load it
            blob = getattr(instance, self.storage)
        if blob is None:
            return None
        plain = state.get(_PLAIN)
        if plain is None:
            plain = state[_PLAIN] = {}
        else:
            cached = plain.get(self.name)
            if cached is not None and cached[0] is blob:
                return cached[1]
        value = self.codec.decode(self._decrypt(instance, blob))
        plain[self.name] = (blob, value)
        return value

    def _decrypt(self, instance: Any, blob: bytes) -> bytes:
        table, column, prefix = self._names.get(type(instance)) or self._column(type(instance))
        keys = instance.__dict__.get(_ROW)
        if keys is None or keys.cache.closed:
            keys = _row_keys(instance)
        # Keyed by header: a row's fields almost always share one key version.
        cipher = keys.read.get(blob[:HEADER_BYTES])
        if cipher is None:
            try:
                key_version = read_header(blob)[2]
            except ValueError as exc:
                raise DecryptionError(table, column, keys.row_id, str(exc)) from None
            cipher = self._read_cipher(instance, keys, key_version, table, column)
        return cipher.decrypt(
            blob, table=table, column=column, row_id=keys.row_id, where=prefix + keys.row
        )

    @staticmethod
    def _read_cipher(
        instance: Any, keys: _RowKeys, key_version: int, table: str, column: str
    ) -> FieldCipher:
        session = object_session(instance) or db.session()
        try:
            # A miss loads the keys of every record in the session at once.
            cipher = keys.cache.cipher_for_read(
                keys.owner_id, key_version, also=lambda: _owners_in(session)
            )
        except KeyConfigError as exc:  # wrong or missing master key
            raise DecryptionError(table, column, keys.row_id, str(exc)) from None
        if cipher is None:
            reason = (
                "the owner's data key was destroyed (erased record)"
                if keys.cache.is_destroyed(keys.owner_id)
                else f"data key version {key_version} of {keys.owner_id} is not in the key store"
            )
            raise DecryptionError(table, column, keys.row_id, reason)
        keys.read[cipher.header] = cipher
        return cipher

    def __set__(self, instance: Any, value: Any) -> None:
        state = instance.__dict__
        plain = state.get(_PLAIN)
        if plain is not None:
            plain.pop(self.name, None)
        if value is None:
            setattr(instance, self.storage, None)
            return
        prefix = (self._names.get(type(instance)) or self._column(type(instance)))[2]
        keys = state.get(_ROW)
        if keys is None or keys.cache.closed or keys.write is None:
            keys = _row_keys(instance)
            if keys.write is None:
                keys.write = keys.cache.cipher_for_write(
                    keys.owner_id, new_owner=instance.data_key_owner()[1]
                )
        # Not cached in clear here: a bulk import would hold every value twice.
        setattr(instance, self.storage, keys.write.encrypt_at(self.codec.encode(value), prefix + keys.row))
