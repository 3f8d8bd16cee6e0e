"""Data keys for one unit of work: create, load in batches, unwrap once, forget.

A :class:`DataKeyCache` lives in ``session.info`` for the length of one
transaction. Keys are unwrapped the first time any field of their owner is
read and reused for every other field; on commit or rollback they are
dropped, so a key destroyed by an erasure is never used again afterwards.
"""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Iterable

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from consentmgr.crypto import (
    FieldCipher,
    KeyConfigError,
    KeyRing,
    generate_data_key,
    unwrap_data_key,
    wrap_data_key,
)
from consentmgr.keys.models import DataKey
from consentmgr.runtime import of_session
from consentmgr.sql import utcnow

_CACHE = "consentmgr.data_keys"
_BATCH = 500  # below SQLite's default bound-parameter limit


class DataKeyUnavailable(KeyConfigError):
    """The owner has no usable data key (never created, or destroyed by erasure)."""


def current_keyring(session: Session) -> KeyRing:
    """The master key ring of the application ``session`` works for."""
    return of_session(session).master_keys


class DataKeyCache:
    """Unwrapped data keys of one session transaction."""

    def __init__(self, session: Session, keyring: KeyRing) -> None:
        self.session = session
        self.keyring = keyring
        # Owners are keyed by ``owner_id.int``: UUID.__hash__ is Python code,
        # and these lookups run several times per row on every list and import.
        # Each owner's newest live key version; the others (only while data
        # keys are being rotated) by (owner, version).
        self._current: dict[int, FieldCipher] = {}
        self._older: dict[tuple[int, int], FieldCipher] = {}
        # Owners looked up in the store without a live key (never created or
        # destroyed): not looked up again in this unit of work.
        self._absent: set[int] = set()
        self._destroyed: set[int] = set()
        # Keys created since the last flush, as parallel lists: a tuple per
        # key would be 10,000 more objects for the garbage collector to
        # track through a bulk import.
        self._new_owners: list[uuid.UUID] = []
        self._new_masters: list[str] = []
        self._new_wrapped: list[bytes] = []
        # Changes whenever keys are dropped (erasure, end of the unit of
        # work): callers that keep a cipher check it before each use.
        self.epoch = 0
        # Set when the unit of work ends; rows holding a reference to this
        # cache then fetch keys afresh (a destroyed key is never reused).
        self.closed = False

    def create_key(self, owner_id: uuid.UUID) -> FieldCipher:
        """Create version 1 of a new owner's data key; written at the next flush."""
        key = generate_data_key()
        master = self.keyring.current
        self._new_owners.append(owner_id)
        self._new_masters.append(master.id)
        self._new_wrapped.append(wrap_data_key(master, key, owner_id=owner_id, version=1))
        cipher = self._current[owner_id.int] = FieldCipher(key, 1)
        return cipher

    def cipher_for_write(self, owner_id: uuid.UUID, *, new_owner: bool) -> FieldCipher:
        """The cipher for new values of this owner (their current key version)."""
        if owner_id is None:
            raise DataKeyUnavailable("the record has no owner to encrypt it for")
        key = owner_id.int
        cipher = self._current.get(key)
        if cipher is not None:
            return cipher
        if key not in self._absent:
            if new_owner:
                return self.create_key(owner_id)
            self._load((owner_id,))
            cipher = self._current.get(key)
            if cipher is not None:
                return cipher
        raise DataKeyUnavailable(_missing_message(owner_id, key in self._destroyed))

    def cipher_for_read(
        self, owner_id: uuid.UUID, version: int,
        also: Callable[[], Iterable[uuid.UUID]] | None = None,
    ) -> FieldCipher | None:
        """The cipher for ``version`` of the owner's key, or ``None`` if it is gone.

        On a miss, the owners yielded by ``also`` are loaded too: a list of
        customers costs one key query per batch of 500, not one per row.
        """
        key = owner_id.int
        cipher = self._current.get(key)
        if cipher is not None:
            if cipher.key_version == version:
                return cipher
            return self._older.get((key, version))
        if key in self._absent:
            return None
        self._load((owner_id,) if also is None else itertools.chain((owner_id,), also()))
        cipher = self._current.get(key)
        if cipher is not None and cipher.key_version != version:
            return self._older.get((key, version))
        return cipher

    def mark_destroyed(self, owner_id: uuid.UUID) -> None:
        """Forget the owner's keys and remember they are gone for this unit of work."""
        self.forget(owner_id)
        self._absent.add(owner_id.int)
        self._destroyed.add(owner_id.int)

    def is_destroyed(self, owner_id: uuid.UUID) -> bool:
        """True if the owner's keys were destroyed (crypto-shredded)."""
        return owner_id.int in self._destroyed

    def forget(self, owner_id: uuid.UUID) -> None:
        """Drop an owner's unwrapped keys (after their destruction)."""
        owner = owner_id.int
        self._current.pop(owner, None)
        for key in [k for k in self._older if k[0] == owner]:
            del self._older[key]
        self._absent.discard(owner)
        self.epoch += 1

    def close(self) -> None:
        """End of the unit of work: every key held here is dropped."""
        self._current.clear()
        self._older.clear()
        self.closed = True
        self.epoch += 1

    def _load(self, owner_ids: Iterable[uuid.UUID]) -> None:
        current, absent, older = self._current, self._absent, self._older
        wanted = [
            o for k, o in {o.int: o for o in owner_ids}.items()
            if k not in current and k not in absent
        ]
        if not wanted:
            return
        # Driver-level statements never autoflush: this runs while a caller
        # is half-way through building an object (setting its encrypted fields).
        connection = self.session.connection(bind_arguments={"clause": DataKey.__table__})
        sql = _key_store_sql(connection.dialect)
        unwrap, keyring = unwrap_data_key, self.keyring
        for start in range(0, len(wanted), _BATCH):
            batch = wanted[start : start + _BATCH]
            stored = sql.stored_ids(batch)
            # Rows name owners as stored (hex text on SQLite): map them back
            # to the UUIDs we already hold instead of parsing new ones.
            by_stored = dict(zip(stored, batch))
            rows = connection.exec_driver_sql(sql.select(len(stored)), sql.pad(stored)).fetchall()
            known = len(current)
            for stored_id, version, master_key_id, wrapped in rows:
                owner_id = by_stored[stored_id]
                owner = owner_id.int
                if wrapped is None:
                    self._destroyed.add(owner)
                    continue
                cipher = FieldCipher(
                    unwrap(keyring, wrapped, master_key_id=master_key_id,
                           owner_id=owner_id, version=version),
                    version,
                )
                newest = current.get(owner)
                if newest is None or version > newest.key_version:
                    current[owner] = cipher
                    if newest is not None:
                        older[(owner, newest.key_version)] = newest
                else:
                    older[(owner, version)] = cipher
            if len(current) - known < len(batch):  # some have no live key
                absent.update(o.int for o in batch if o.int not in current)

    def flush_new_keys(self) -> None:
        """Insert keys created since the last flush, in one ``executemany``."""
        if not self._new_owners:
            return
        owners, masters, wrapped = self._new_owners, self._new_masters, self._new_wrapped
        self._new_owners, self._new_masters, self._new_wrapped = [], [], []
        connection = self.session.connection(bind_arguments={"clause": DataKey.__table__})
        sql = _key_store_sql(connection.dialect)
        created = sql.created_at(utcnow())
        if sql.wrapped is not None:
            wrapped = list(map(sql.wrapped, wrapped))
        connection.exec_driver_sql(sql.insert, list(zip(
            sql.stored_ids(owners), itertools.repeat(1), masters, wrapped, itertools.repeat(created)
        )))


class _KeyStoreSQL:
    """The two statements on the key-store hot path, ready for the driver.

    Writing 10,000 new keys or reading them back for a list of customers
    is dominated by per-row work in the generic statement machinery
    (parameter processing, UUID objects built and hashed): these statements
    go to the driver with parameters already in the form the column types
    would produce (hex text for a UUID on SQLite), converted once per value.
    """

    def __init__(self, dialect: sa.Dialect) -> None:
        table = DataKey.__table__
        if dialect.paramstyle not in ("qmark", "format", "pyformat"):
            # SQLite (qmark) and psycopg (pyformat) are what the project runs on.
            raise NotImplementedError(
                f"the key store does not support {dialect.name} ({dialect.paramstyle} parameters)"
            )
        self._placeholder = "?" if dialect.paramstyle == "qmark" else "%s"
        self._to_stored = _bind_processor(table.c.owner_id, dialect)
        self.created_at = _bind_processor(table.c.created_at, dialect) or (lambda value: value)
        self.wrapped = _bind_processor(table.c.wrapped, dialect)
        self.insert = (
            # The table name is our model's; every value is a bound placeholder.
            f"INSERT INTO {table.name} (owner_id, version, master_key_id, wrapped, created_at) "  # nosec B608
            f"VALUES ({', '.join([self._placeholder] * 5)})"
        )
        self._selects: dict[int, str] = {}

    def stored_ids(self, owner_ids: list[uuid.UUID]) -> list:
        """Owner ids as the database stores them."""
        convert = self._to_stored
        return [convert(o) for o in owner_ids] if convert else list(owner_ids)

    def select(self, count: int) -> str:
        """``SELECT`` the keys of ``count`` owners (padded, see :meth:`pad`)."""
        size = _padded(count)
        sql = self._selects.get(size)
        if sql is None:
            sql = self._selects[size] = (
                # The table name is our model's; the owner ids are bound placeholders.
                f"SELECT owner_id, version, master_key_id, wrapped FROM {DataKey.__table__.name} "  # nosec B608
                f"WHERE owner_id IN ({', '.join([self._placeholder] * size)})"
            )
        return sql

    @staticmethod
    def pad(stored: list) -> tuple:
        """Parameters for :meth:`select`, the last id repeated up to its size.

        A handful of statement sizes instead of one per batch length keeps
        the driver's and the database's statement caches warm.
        """
        return tuple(stored) + (stored[-1],) * (_padded(len(stored)) - len(stored))


def _padded(count: int) -> int:
    """The statement size for ``count`` (at most _BATCH) owners: 1, 4, 16, ... or _BATCH."""
    size = 1
    while size < count:
        size *= 4
    return min(size, _BATCH)


@lru_cache(maxsize=8)
def _key_store_sql(dialect: sa.Dialect) -> _KeyStoreSQL:
    return _KeyStoreSQL(dialect)


def _bind_processor(column: sa.Column, dialect: sa.Dialect) -> Callable[[object], object] | None:
    return column.type.dialect_impl(dialect).bind_processor(dialect)


def key_cache(session: Session) -> DataKeyCache:
    """The data-key cache of this session's current unit of work."""
    cache = session.info.get(_CACHE)
    if cache is None:
        cache = session.info[_CACHE] = DataKeyCache(session, current_keyring(session))
    return cache


def _missing_message(owner_id: uuid.UUID, destroyed: bool) -> str:
    if destroyed:
        return f"the data key of {owner_id} was destroyed (erased record)"
    return f"{owner_id} has no data key in the key store"


@event.listens_for(Session, "before_flush")
def _write_new_keys(session: Session, flush_context, instances) -> None:
    cache = session.info.get(_CACHE)
    if cache is not None:
        cache.flush_new_keys()


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")  # also fires for a savepoint rolled back
def _drop_keys(session: Session) -> None:
    cache = session.info.pop(_CACHE, None)
    if cache is not None:
        cache.close()


def destroy_data_keys(session: Session, owner_id: uuid.UUID) -> int:
    """Crypto-shred: clear every wrapped key of ``owner_id``; returns how many.

    The rows stay (with ``destroyed_at``) as evidence that the keys existed
    and when they were destroyed; without the wrapped bytes no backup of the
    main database can be decrypted for this owner.
    """
    table = DataKey.__table__
    result = session.execute(
        sa.update(table)
        .where(table.c.owner_id == owner_id, table.c.wrapped.is_not(None))
        .values(wrapped=None, destroyed_at=utcnow())
    )
    key_cache(session).mark_destroyed(owner_id)
    return result.rowcount or 0


@dataclass(frozen=True)
class KeyStatus:
    """How many data keys each master key version wraps."""

    by_master_key: dict[str, int]
    destroyed: int
    configured: list[str]

    @property
    def unknown_master_keys(self) -> list[str]:
        """Master key ids used in the store but missing from the configuration."""
        return sorted(set(self.by_master_key) - set(self.configured))


def key_status(session: Session, keyring: KeyRing) -> KeyStatus:
    """Count live data keys per master key id, and destroyed ones."""
    table = DataKey.__table__
    rows = session.execute(
        sa.select(table.c.master_key_id, sa.func.count())
        .where(table.c.wrapped.is_not(None))
        .group_by(table.c.master_key_id)
    ).all()
    destroyed = session.scalar(
        sa.select(sa.func.count()).select_from(table).where(table.c.wrapped.is_(None))
    )
    return KeyStatus(dict(Counter({k: n for k, n in rows})), destroyed or 0, keyring.ids)


def check_master_keys(session: Session, keyring: KeyRing) -> None:
    """Unwrap one stored key per master key id: a wrong key fails at start-up.

    Raises :class:`KeyConfigError` naming the master key id at fault.
    """
    table = DataKey.__table__
    ids = session.scalars(
        sa.select(table.c.master_key_id).where(table.c.wrapped.is_not(None)).distinct()
    ).all()
    for master_key_id in ids:
        owner_id, version, wrapped = session.execute(
            sa.select(table.c.owner_id, table.c.version, table.c.wrapped)
            .where(table.c.master_key_id == master_key_id, table.c.wrapped.is_not(None))
            .limit(1)
        ).one()
        unwrap_data_key(
            keyring, wrapped, master_key_id=master_key_id, owner_id=owner_id, version=version
        )
