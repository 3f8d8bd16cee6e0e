"""Data-key rotation: a new data key per owner, every value re-encrypted, the old key destroyed.

A run (:class:`~consentmgr.keys.models.DataKeyRotation`) goes owner batch
by owner batch; each batch is three units of work, in this order, for the
boundary (``flask keys rotate-data``) to commit one after the other:

1. :func:`prepare_batch` -- in the key store, a new key version for each
   owner of the batch that has none made since the run started (wrapped
   under the current master key). Committed first: a value is never
   written under a key that is not stored yet.
2. :func:`reencrypt_batch` -- in the main database, every value of those
   owners that is under an older version is decrypted and encrypted again
   under the newest one (a fresh random nonce each, see
   :mod:`consentmgr.crypto.envelope`), with one audit entry for the batch.
   All of an owner's values move together, or none do.
3. :func:`destroy_old_versions` -- in the key store, the older versions
   of the owners whose values are all under the newest are destroyed
   (wrapped bytes cleared, as for an erasure), so a copy of an old key, or
   of a backup wrapped under a leaked master key, opens nothing written
   since.

A request that loaded an owner's old key before step 2 may still commit a
value under it after step 2 checked (its unit of work began earlier). So
``flask keys rotate-data`` destroys an old version only once the owner's
new one is :data:`SETTLE_SECONDS` old (``settled_before``): longer than any
request runs. Owners not settled yet wait for the end of the run, which
moves any such value first and then destroys.

The key store may be a separate database: the order above is what keeps
every value readable whatever the moment a run is killed (``kill -9``).
Killed after 1, an owner has an unused new key (reused by the next run);
after 2, two live keys with every value under the newest (the next run
destroys the older). A rerun of ``rotate-data`` resumes the unfinished run.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from consentmgr.actors import Actor
from consentmgr.audit import actions as audit_actions
from consentmgr.audit import services as audit
from consentmgr.crypto import (
    DecryptionError,
    FieldCipher,
    KeyRing,
    generate_data_key,
    read_header,
    unwrap_data_key,
    wrap_data_key,
)
from consentmgr.crypto.envelope import location
from consentmgr.keys.models import DataKey, DataKeyRotation
from consentmgr.keys.registry import EncryptedTable, encrypted_tables
from consentmgr.keys.services import check_master_keys
from consentmgr.sql import as_utc, utcnow

DEFAULT_BATCH_SIZE = 500
#: How old an owner's new key must be before the old one is destroyed (see above).
SETTLE_SECONDS = 60


@dataclass(frozen=True)
class BatchResult:
    """What one batch changed: owners handled, values re-encrypted, old key versions destroyed."""

    owners: int
    values: int
    destroyed: int = 0


def start_or_resume(session: Session, keyring: KeyRing) -> DataKeyRotation:
    """The unfinished run, or a new one; checks the master keys first.

    Raises :class:`~consentmgr.crypto.KeyConfigError` naming the master key
    when a stored data key is wrapped by one that is missing from the
    configuration or is the wrong key for its id: nothing is changed then.
    """
    check_master_keys(session, keyring)
    rotation = unfinished_run(session)
    if rotation is None:
        rotation = DataKeyRotation(started_at=utcnow())
        session.add(rotation)
        session.flush()
    return rotation


def unfinished_run(session: Session) -> DataKeyRotation | None:
    """The run a ``rotate-data`` was interrupted in, if any."""
    return session.scalar(sa.select(DataKeyRotation)
                          .where(DataKeyRotation.finished_at.is_(None))
                          .order_by(DataKeyRotation.id).limit(1))


def _pending(started_at, settled_before=None):
    """Owners with a live key, and no key made since ``started_at`` or an older one still live.

    With ``settled_before``, an owner whose older key is still live counts
    only once their newest key was made before that time.
    """
    table = DataKey.__table__
    newest = sa.func.max(table.c.created_at)
    old_still_live = sa.func.count() > 1
    if settled_before is not None:
        old_still_live = sa.and_(old_still_live, newest <= settled_before)
    return (
        sa.select(table.c.owner_id, newest.label("newest"))
        .where(table.c.wrapped.is_not(None))
        .group_by(table.c.owner_id)
        .having(sa.or_(old_still_live, newest < started_at))
    )


def unsettled_until(session: Session, settle_seconds: float):
    """When the last owner with an old key still live will be settled (None: there is none)."""
    table = DataKey.__table__
    newest = (sa.select(sa.func.max(table.c.created_at).label("newest"))
              .where(table.c.wrapped.is_not(None)).group_by(table.c.owner_id)
              .having(sa.func.count() > 1).subquery())
    latest = session.scalar(sa.select(sa.func.max(newest.c.newest)))
    return None if latest is None else as_utc(latest) + dt.timedelta(seconds=settle_seconds)


def owners_to_rotate(session: Session, rotation: DataKeyRotation) -> int:
    """How many owners the run still has to rotate."""
    pending = _pending(rotation.started_at).subquery()
    return session.scalar(sa.select(sa.func.count()).select_from(pending)) or 0


def prepare_batch(session: Session, keyring: KeyRing, rotation: DataKeyRotation, *,
                  batch_size: int = DEFAULT_BATCH_SIZE,
                  settled_before: dt.datetime | None = None) -> list[uuid.UUID]:
    """Step 1: the next owners to rotate, each given a new key version if the run made none yet.

    Returns the owners (empty when the run is done). Flushes; commit this
    before :func:`reencrypt_batch`.
    """
    table = DataKey.__table__
    rows = session.execute(
        _pending(rotation.started_at, settled_before)
        .order_by(table.c.owner_id).limit(batch_size)).all()
    if not rows:
        return []
    owners = [row.owner_id for row in rows]
    stale = [row.owner_id for row in rows if row.newest < rotation.started_at]
    if stale:
        highest = dict(session.execute(
            sa.select(table.c.owner_id, sa.func.max(table.c.version))
            .where(table.c.owner_id.in_(stale)).group_by(table.c.owner_id)).all())
        master, now = keyring.current, utcnow()
        new_keys = []
        for owner_id in stale:
            version = highest[owner_id] + 1  # destroyed versions keep their numbers
            new_keys.append({
                "owner_id": owner_id, "version": version, "master_key_id": master.id,
                "wrapped": wrap_data_key(master, generate_data_key(), owner_id=owner_id,
                                         version=version),
                "created_at": now,
            })
        session.execute(sa.insert(table), new_keys)
    session.flush()
    return owners


def _live_ciphers(session: Session, keyring: KeyRing,
                  owners: list[uuid.UUID]) -> dict[uuid.UUID, dict[int, FieldCipher]]:
    """Every live key version of ``owners``, unwrapped: ``{owner: {version: cipher}}``."""
    table = DataKey.__table__
    ciphers: dict[uuid.UUID, dict[int, FieldCipher]] = defaultdict(dict)
    for owner_id, version, master_key_id, wrapped in session.execute(
            sa.select(table.c.owner_id, table.c.version, table.c.master_key_id, table.c.wrapped)
            .where(table.c.owner_id.in_(owners), table.c.wrapped.is_not(None))):
        key = unwrap_data_key(keyring, wrapped, master_key_id=master_key_id,
                              owner_id=owner_id, version=version)
        ciphers[owner_id][version] = FieldCipher(key, version)
    return ciphers


def _rows_of(session: Session, entry: EncryptedTable, owners: list[uuid.UUID]):
    table = entry.table
    owner = table.c[entry.owner_column]
    return session.execute(
        sa.select(table.c.id, owner, *(table.c[name] for name in entry.columns))
        .where(owner.in_(owners))).all()


def _version_of(blob: bytes, entry: EncryptedTable, column: str, row_id: object) -> int:
    try:
        return read_header(blob)[2]
    except ValueError as exc:
        raise DecryptionError(entry.name, column, row_id, str(exc)) from None


def reencrypt_batch(session: Session, keyring: KeyRing, owners: list[uuid.UUID], *,
                    actor: Actor, rotation: DataKeyRotation,
                    record_empty: bool = True) -> BatchResult:
    """Step 2: every value of ``owners`` not under their newest key, re-encrypted under it.

    Writes one :data:`~consentmgr.audit.actions.KEYS_ROTATE_DATA` entry
    (counts only: no owner, no value) in the same unit of work -- unless
    nothing was re-encrypted and ``record_empty`` is false (the settling
    pass that revisits owners already rotated) -- and flushes. Raises :class:`DecryptionError` naming the value if one does
    not decrypt (nothing of the batch is kept then: the boundary rolls
    back).
    """
    ciphers = _live_ciphers(session, keyring, owners)
    newest = {owner: keys[max(keys)] for owner, keys in ciphers.items()}
    changed = 0
    for entry in encrypted_tables():
        table = entry.table
        updates = []
        for row in _rows_of(session, entry, owners):
            row_id, owner_id, blobs = row[0], row[1], row[2:]
            cipher = newest.get(owner_id)
            if cipher is None:
                continue  # no live key: erased, nothing readable to move
            values, moved = {}, False
            for column, blob in zip(entry.columns, blobs):
                values[column] = blob
                if blob is None or blob[2:6] == cipher.header[2:6]:
                    continue
                version = _version_of(blob, entry, column, row_id)
                old = ciphers[owner_id].get(version)
                if old is None:
                    raise DecryptionError(entry.name, column, row_id,
                                          f"data key version {version} of the owner is gone")
                where = location(entry.name, column, row_id)
                values[column] = cipher.encrypt_at(
                    old.decrypt_at(blob, where, entry.name, column, row_id), where)
                moved = True
                changed += 1
            if moved:
                updates.append({"_id": row_id, **{f"v_{c}": v for c, v in values.items()}})
        if updates:
            # Re-encrypting is not a change of the record: its update stamps stay.
            stamps = {c.name: c for c in table.c if c.onupdate is not None}
            session.execute(
                sa.update(table).where(table.c.id == sa.bindparam("_id"))
                .values({**{name: sa.bindparam(f"v_{name}", type_=table.c[name].type)
                            for name in entry.columns}, **stamps}),
                updates)
    if changed or record_empty:
        audit.record(audit_actions.KEYS_ROTATE_DATA, actor=actor,
                     details={"run": rotation.id, "owners": len(owners), "reencrypted": changed})
    session.flush()
    return BatchResult(owners=len(owners), values=changed)


def destroy_old_versions(session: Session, keyring: KeyRing, owners: list[uuid.UUID], *,
                         settled_before: dt.datetime | None = None) -> int:
    """Step 3: destroy the older key versions of owners whose values are all under their newest.

    An owner with a value still under an older version (written by a
    request that held the old key while step 2 ran) keeps it, and stays
    pending: the next batch moves that value first. With
    ``settled_before``, so does an owner whose newest key was made after
    that time. Returns how many key versions were destroyed. Flushes.
    """
    table = DataKey.__table__
    live = defaultdict(list)
    made: dict[uuid.UUID, dt.datetime] = {}
    for owner_id, version, created_at in session.execute(
            sa.select(table.c.owner_id, table.c.version, table.c.created_at)
            .where(table.c.owner_id.in_(owners), table.c.wrapped.is_not(None))):
        live[owner_id].append(version)
        made[owner_id] = max(made.get(owner_id, created_at), created_at)
    newest = {owner: max(versions) for owner, versions in live.items() if len(versions) > 1
              and (settled_before is None or as_utc(made[owner]) <= settled_before)}
    if not newest:
        return 0
    behind = set()
    for entry in encrypted_tables():
        for row in _rows_of(session, entry, list(newest)):
            version = newest[row[1]]
            for column, blob in zip(entry.columns, row[2:]):
                if blob is not None and _version_of(blob, entry, column, row[0]) != version:
                    behind.add(row[1])
    destroyed, now = 0, utcnow()
    for owner_id, version in newest.items():
        if owner_id in behind:
            continue
        result = session.execute(
            sa.update(table)
            .where(table.c.owner_id == owner_id, table.c.version < version,
                   table.c.wrapped.is_not(None))
            .values(wrapped=None, destroyed_at=now))
        destroyed += result.rowcount or 0
    session.flush()
    return destroyed


def finish(session: Session, rotation: DataKeyRotation) -> bool:
    """Mark the run finished if no owner is left; True if it was."""
    if owners_to_rotate(session, rotation):
        return False
    rotation.finished_at = utcnow()
    session.flush()
    return True
