"""Master-key rotation: re-wrap the data keys under the current master key, batch by batch.

Only the wrapping changes: the data keys, and so every encrypted value,
stay as they are. Each batch is one unit of work for the boundary (``flask
keys rotate-master``) to commit, and carries its own audit entry, so the
trail records exactly the batches that took effect: an interrupted run
loses at most its last batch, and running it again resumes where it
stopped (keys already under the current master key are not selected).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from consentmgr.actors import Actor
from consentmgr.audit import actions as audit_actions
from consentmgr.audit import services as audit
from consentmgr.crypto import KeyRing, unwrap_data_key, wrap_data_key
from consentmgr.keys.models import DataKey

DEFAULT_BATCH_SIZE = 500


def _pending(keyring: KeyRing) -> sa.ColumnElement[bool]:
    table = DataKey.__table__
    return table.c.wrapped.is_not(None) & (table.c.master_key_id != keyring.current.id)


def keys_to_rewrap(session: Session, keyring: KeyRing) -> int:
    """How many live data keys are wrapped under a master key other than the current one."""
    table = DataKey.__table__
    return session.scalar(sa.select(sa.func.count()).select_from(table)
                          .where(_pending(keyring))) or 0


def rewrap_batch(session: Session, keyring: KeyRing, *, actor: Actor,
                 batch_size: int = DEFAULT_BATCH_SIZE) -> int:
    """Re-wrap up to ``batch_size`` data keys under ``keyring.current``; returns how many.

    Writes one :data:`~consentmgr.audit.actions.KEYS_ROTATE_MASTER` entry
    for the batch (the new master key id, the old ones, the count) in the
    same unit of work, and flushes; 0 means nothing was left to do, and no
    entry is written. ``session`` is the application's session, the one
    the audit entry goes to.
    """
    table = DataKey.__table__
    current = keyring.current
    rows = session.execute(
        sa.select(table.c.owner_id, table.c.version, table.c.master_key_id, table.c.wrapped)
        .where(_pending(keyring)).order_by(table.c.owner_id, table.c.version).limit(batch_size)
    ).all()
    if not rows:
        return 0
    rewrapped = []
    for owner_id, version, master_key_id, wrapped in rows:
        key = unwrap_data_key(keyring, wrapped, master_key_id=master_key_id,
                              owner_id=owner_id, version=version)
        rewrapped.append({"o": owner_id, "v": version, "w": wrap_data_key(
            current, key, owner_id=owner_id, version=version)})
    # One executemany for the batch: a statement per key was most of the run's time.
    session.execute(
        sa.update(table)
        .where(table.c.owner_id == sa.bindparam("o"), table.c.version == sa.bindparam("v"))
        .values(master_key_id=current.id, wrapped=sa.bindparam("w", type_=table.c.wrapped.type)),
        rewrapped,
    )
    audit.record(audit_actions.KEYS_ROTATE_MASTER, actor=actor,
                 details={"to": current.id,
                          "from": " ".join(sorted({row.master_key_id for row in rows})),
                          "rewrapped": len(rows)})
    session.flush()
    return len(rows)
