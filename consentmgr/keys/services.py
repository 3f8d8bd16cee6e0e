"""Data keys for one unit of work: create, load in batches, unwrap once, forget.

A :class:`DataKeyCache` lives in ``session.info`` for the length of one
transaction. Keys are unwrapped the first time any field of their owner is
read and reused for every other field; on commit or rollback they are
dropped, so a key destroyed by an erasure is never used again afterwards.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterable

import sqlalchemy as sa
from flask import current_app
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
from consentmgr.keys.models import DataKey, utcnow

_CACHE = "consentmgr.data_keys"
_BATCH = 500  # below SQLite's default bound-parameter limit


class DataKeyUnavailable(KeyConfigError):
    """The owner has no usable data key (never created, or destroyed by erasure)."""


def current_keyring() -> KeyRing:
    """The master key ring of the running application."""
    return current_app.extensions["consentmgr"].settings.master_keys


class DataKeyCache:
    """Unwrapped data keys of one session transaction."""

    def __init__(self, session: Session, keyring: KeyRing) -> None:
        self.session = session
        self.keyring = keyring
        self._ciphers: dict[tuple[uuid.UUID, int], FieldCipher] = {}
        self._current: dict[uuid.UUID, int] = {}
        self._destroyed: set[uuid.UUID] = set()
        self._loaded: set[uuid.UUID] = set()
        self._new_rows: list[dict] = []
        # Set when the unit of work ends; rows holding a reference to this
        # cache then fetch keys afresh (a destroyed key is never reused).
        self.closed = False

    def create_key(self, owner_id: uuid.UUID) -> FieldCipher:
        """Create version 1 of a new owner's data key; written at the next flush."""
        key = generate_data_key()
        master = self.keyring.current
        self._new_rows.append(
            {
                "owner_id": owner_id,
                "version": 1,
                "master_key_id": master.id,
                "wrapped": wrap_data_key(master, key, owner_id=owner_id, version=1),
                "created_at": utcnow(),
            }
        )
        cipher = FieldCipher(key, 1)
        self._ciphers[(owner_id, 1)] = cipher
        self._current[owner_id] = 1
        self._loaded.add(owner_id)
        return cipher

    def cipher_for_write(self, owner_id: uuid.UUID, *, new_owner: bool) -> FieldCipher:
        """The cipher for new values of this owner (their current key version)."""
        version = self._current.get(owner_id)
        if version is None and new_owner and owner_id not in self._loaded:
            return self.create_key(owner_id)
        if version is None:
            self._load({owner_id})
            version = self._current.get(owner_id)
        if version is None:
            raise DataKeyUnavailable(_missing_message(owner_id, owner_id in self._destroyed))
        return self._ciphers[(owner_id, version)]

    def cipher_for_read(
        self, owner_id: uuid.UUID, version: int,
        also: Callable[[], Iterable[uuid.UUID]] | None = None,
    ) -> FieldCipher | None:
        """The cipher for ``version`` of the owner's key, or ``None`` if it is gone.

        On a miss, the owners yielded by ``also`` are loaded too: a list of
        customers costs one key query per batch of 500, not one per row.
        """
        cipher = self._ciphers.get((owner_id, version))
        if cipher is None and owner_id not in self._loaded:
            wanted = {owner_id}
            if also is not None:
                wanted.update(o for o in also() if o not in self._loaded)
            self._load(wanted)
            cipher = self._ciphers.get((owner_id, version))
        return cipher

    def mark_destroyed(self, owner_id: uuid.UUID) -> None:
        """Forget the owner's keys and remember they are gone for this unit of work."""
        self.forget(owner_id)
        self._loaded.add(owner_id)
        self._destroyed.add(owner_id)

    def is_destroyed(self, owner_id: uuid.UUID) -> bool:
        """True if the owner's keys were destroyed (crypto-shredded)."""
        return owner_id in self._destroyed

    def forget(self, owner_id: uuid.UUID) -> None:
        """Drop an owner's unwrapped keys (after their destruction)."""
        for key in [k for k in self._ciphers if k[0] == owner_id]:
            del self._ciphers[key]
        self._current.pop(owner_id, None)
        self._loaded.discard(owner_id)

    def _load(self, owner_ids: Iterable[uuid.UUID]) -> None:
        wanted = [o for o in owner_ids if o not in self._loaded]
        table = DataKey.__table__
        for start in range(0, len(wanted), _BATCH):
            batch = wanted[start : start + _BATCH]
            # No autoflush: this runs while a caller is half-way through
            # building an object (setting its encrypted fields).
            with self.session.no_autoflush:
                rows = self.session.execute(
                    sa.select(table.c.owner_id, table.c.version, table.c.master_key_id, table.c.wrapped)
                    .where(table.c.owner_id.in_(batch))
                ).all()
            for owner_id, version, master_key_id, wrapped in rows:
                if wrapped is None:
                    self._destroyed.add(owner_id)
                    continue
                key = unwrap_data_key(
                    self.keyring, wrapped,
                    master_key_id=master_key_id, owner_id=owner_id, version=version,
                )
                self._ciphers[(owner_id, version)] = FieldCipher(key, version)
                if version > self._current.get(owner_id, 0):
                    self._current[owner_id] = version
            self._loaded.update(batch)

    def flush_new_keys(self) -> None:
        """Insert keys created since the last flush, in one statement."""
        if self._new_rows:
            rows, self._new_rows = self._new_rows, []
            self.session.execute(sa.insert(DataKey.__table__), rows)


def key_cache(session: Session) -> DataKeyCache:
    """The data-key cache of this session's current unit of work."""
    cache = session.info.get(_CACHE)
    if cache is None:
        cache = session.info[_CACHE] = DataKeyCache(session, current_keyring())
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
@event.listens_for(Session, "after_rollback")
def _drop_keys(session: Session) -> None:
    cache = session.info.pop(_CACHE, None)
    if cache is not None:
        cache.closed = True


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


def rewrap_data_keys(
    session: Session, keyring: KeyRing, *, batch_size: int = 500
) -> Iterable[tuple[int, int]]:
    """Re-wrap every live data key not under the current master key.

    Yields ``(done, total)`` after each committed batch, so an interrupted
    run loses at most one batch and simply resumes where it stopped: rows
    already under the current key are not selected again. The data itself
    is untouched (the data keys do not change).
    """
    table = DataKey.__table__
    current = keyring.current
    pending = (table.c.wrapped.is_not(None)) & (table.c.master_key_id != current.id)
    total = session.scalar(sa.select(sa.func.count()).select_from(table).where(pending)) or 0
    done = 0
    while True:
        rows = session.execute(
            sa.select(table.c.owner_id, table.c.version, table.c.master_key_id, table.c.wrapped)
            .where(pending).order_by(table.c.owner_id, table.c.version).limit(batch_size)
        ).all()
        if not rows:
            break
        for owner_id, version, master_key_id, wrapped in rows:
            key = unwrap_data_key(keyring, wrapped, master_key_id=master_key_id,
                                  owner_id=owner_id, version=version)
            session.execute(
                sa.update(table)
                .where(table.c.owner_id == owner_id, table.c.version == version)
                .values(master_key_id=current.id,
                        wrapped=wrap_data_key(current, key, owner_id=owner_id, version=version))
            )
        session.commit()
        done += len(rows)
        yield done, total


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
