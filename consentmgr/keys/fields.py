"""Encrypted model attributes.

A model declares each encrypted attribute once::

    email = EncryptedField(TEXT)

which maps a ``Ciphertext`` column named ``email`` to the private
attribute ``_email`` and exposes the clear value as ``email``.

Setting ``customer.email`` encrypts at once under the owner's data key;
reading decrypts with the key unwrapped for this unit of work. Only fields
that are read are decrypted, and clear values are not kept on the instance
(the caller holds them as long as it needs them). Only ciphertext ever
reaches the database.

This is the hot path of every list screen and bulk import. What a row's
fields share in a unit of work -- the key cache, the ciphers, the row's part
of the associated data -- is set up on first use and kept in the instance's
``__dict__`` next to SQLAlchemy's state, so each further field costs little
more than its AES-GCM call. It is kept there rather than in an object of
its own because every extra object per row is one more for Python's cycle
collector to track: on a 10,000-row list that cost more than the lookups.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar, Iterator

from sqlalchemy import inspect
from sqlalchemy.orm import Session, mapped_column, object_session

from consentmgr.crypto import DecryptionError, FieldCipher, KeyConfigError, read_header
from consentmgr.crypto.codecs import Codec
from consentmgr.extensions import db
from consentmgr.keys.services import DataKeyCache, key_cache
from consentmgr.keys.types import Ciphertext

# The row's context, in the instance's __dict__. It is valid while the key
# cache's epoch is unchanged: the epoch moves when the unit of work ends or
# an owner's keys are destroyed, and the next access then sets it up again,
# so a cipher never outlives its transaction or an erasure.
_KEYS = "_consentmgr_keys"  # the DataKeyCache of the unit of work
_EPOCH = "_consentmgr_epoch"  # its epoch when the entries below were set
_ROW_ID = "_consentmgr_row_id"  # the row id the associated data names
_WHERE = "_consentmgr_where"  # the row's part of the associated data
_WRITE = "_consentmgr_write"  # the cipher for new values (None until a field is set)
_READ = "_consentmgr_read"  # the cipher of the last value read (None until one is read)
_MISSING = object()


def is_new(obj: Any) -> bool:
    """True for an object not yet in the database (transient or pending)."""
    return obj._sa_instance_state.key is None


class EncryptedRecord:
    """Mixin for models with encrypted fields. Subclasses name their key owner."""

    #: The column holding the id of the owner whose data key encrypts the row
    #: (what :meth:`data_key_owner` returns for a stored row). Bulk work over
    #: stored rows, such as re-encrypting under a new data key
    #: (:mod:`consentmgr.keys.registry`), finds an owner's rows by it.
    data_key_owner_column: ClassVar[str] = "customer_id"

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


def _set_up_row(instance: Any, state: dict[str, Any]) -> DataKeyCache:
    """(Re)build the row's context for its session's current unit of work."""
    row_id = instance._ensure_id()
    cache = key_cache(object_session(instance) or db.session())
    state[_KEYS] = cache
    state[_EPOCH] = cache.epoch
    state[_ROW_ID] = row_id
    state[_WHERE] = str(row_id).encode()
    state[_WRITE] = state[_READ] = None
    return cache


def _row_is_current(state: dict[str, Any]) -> bool:
    cache = state.get(_KEYS)
    # A changed id would bind new values to the wrong row.
    return (
        cache is not None and state[_EPOCH] == cache.epoch
        and state.get("id") is state[_ROW_ID]
    )


def _write_cipher(instance: Any, state: dict[str, Any]) -> FieldCipher:
    """Set up the row's context if needed, and the cipher for its new values."""
    owner_id, new_owner = instance.data_key_owner()
    cache = state[_KEYS] if _row_is_current(state) else _set_up_row(instance, state)
    cipher = state[_WRITE] = cache.cipher_for_write(owner_id, new_owner=new_owner)
    return cipher


def _owners_in(session: Session) -> Iterator[uuid.UUID]:
    """Owners of every encrypted record loaded in this session."""
    for obj in session.identity_map.values():  # a new list: safe to load meanwhile
        if isinstance(obj, EncryptedRecord):
            owner_id = obj.data_key_owner()[0]
            if owner_id is not None:
                yield owner_id


class EncryptedField:
    """A clear-text view over an encrypted column (see module docstring)."""

    def __init__(self, codec: Codec) -> None:
        self.codec = codec
        self.encode = codec.encode
        self.decode = codec.decode
        self._names: dict[type, tuple[str, str, bytes]] = {}

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.storage = f"_{name}"
        # Runs while the class is being created, before SQLAlchemy's
        # declarative scan: the column is mapped as if declared beside us.
        if self.storage not in owner.__dict__:
            setattr(owner, self.storage, mapped_column(name, Ciphertext))

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
        cipher = state.get(_READ)
        if (
            cipher is None or state[_EPOCH] != state[_KEYS].epoch
            # The row's fields almost always share one key version.
            or not blob.startswith(cipher.header)
        ):
            cipher = self._read_cipher(instance, state, blob)
        table, column, prefix = self._names.get(type(instance)) or self._column(type(instance))
        return self.decode(
            cipher.decrypt_at(blob, prefix + state[_WHERE], table, column, state[_ROW_ID])
        )

    def _read_cipher(self, instance: Any, state: dict[str, Any], blob: bytes) -> FieldCipher:
        """The cipher for the key version named in ``blob``'s header."""
        cache = state[_KEYS] if _row_is_current(state) else _set_up_row(instance, state)
        table, column, _ = self._names.get(type(instance)) or self._column(type(instance))
        row_id = state[_ROW_ID]
        try:
            key_version = read_header(blob)[2]
        except ValueError as exc:
            raise DecryptionError(table, column, row_id, str(exc)) from None
        owner_id = instance.data_key_owner()[0]
        try:
            # A miss loads the keys of every record in the session at once.
            cipher = cache.cipher_for_read(
                owner_id, key_version,
                also=lambda: _owners_in(object_session(instance) or db.session()),
            )
        except KeyConfigError as exc:  # wrong or missing master key
            raise DecryptionError(table, column, row_id, str(exc)) from None
        if cipher is None:
            reason = (
                "the owner's data key was destroyed (erased record)"
                if cache.is_destroyed(owner_id)
                else f"data key version {key_version} of {owner_id} is not in the key store"
            )
            raise DecryptionError(table, column, row_id, reason)
        state[_READ] = cipher
        return cipher

    def __set__(self, instance: Any, value: Any) -> None:
        if value is None:
            setattr(instance, self.storage, None)
            return
        state = instance.__dict__
        cipher = state.get(_WRITE)
        if (
            cipher is None or state[_EPOCH] != state[_KEYS].epoch
            # A changed id would bind the value to the wrong row.
            or state.get("id") is not state[_ROW_ID]
        ):
            cipher = _write_cipher(instance, state)
        prefix = (self._names.get(type(instance)) or self._column(type(instance)))[2]
        blob = cipher.encrypt_at(self.encode(value), prefix + state[_WHERE])
        if instance._sa_instance_state.key is None:
            # Not in the database yet (transient or pending): its INSERT takes
            # every column value in the instance's __dict__, so the ciphertext
            # goes straight there. SQLAlchemy's change tracking has nothing to
            # track for a row it will insert whole, and skipping it is a
            # third of each field's cost on a bulk import. (Ciphertext
            # attributes have no attribute-event listeners to bypass.)
            state[self.storage] = blob
        else:
            setattr(instance, self.storage, blob)
