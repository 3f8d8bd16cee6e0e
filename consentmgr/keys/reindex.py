"""Moving a blind index to the current blind-index key, batch by batch.

Blind-index values are ``keyid:hex`` (:class:`~consentmgr.crypto.BlindIndexer`):
each names the key it was computed under, and lookups try every configured
key (``candidates()``), so rows under the old key and rows under the new
one are both found while a reindex runs. A row is recomputed from its
decrypted value; rows already under the current key are not selected
again, so an interrupted run resumes where it stopped.

Which columns are blind indexes, and what each one is computed over, is
declared by the areas that own them (:class:`BlindIndexColumn`); the
boundary (``flask keys reindex``) passes them in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from consentmgr.actors import Actor
from consentmgr.audit import actions as audit_actions
from consentmgr.audit import services as audit
from consentmgr.crypto import BlindIndexer, KeyRing

DEFAULT_BATCH_SIZE = 500
OTHER = "(not configured)"


@dataclass(frozen=True)
class BlindIndexColumn:
    """A stored blind index: its model, index column, HKDF label, and the text it is computed over.

    ``text(row)`` decrypts what it needs from a loaded row; ``None`` means
    the row has nothing left to index (the index is then cleared).
    """

    name: str
    model: type
    column: str
    label: str
    text: Callable[[Any], str | None]

    @property
    def attribute(self) -> Any:
        """The mapped index attribute."""
        return getattr(self.model, self.column)


def _under(attribute: Any, key_id: str) -> sa.ColumnElement[bool]:
    # Key ids are letters, digits, '.', '_' and '-': only '_' is a LIKE wildcard.
    pattern = key_id.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%") + ":%"
    return attribute.like(pattern, escape="\\")


def index_counts(session: Session, keyring: KeyRing, target: BlindIndexColumn) -> dict[str, int]:
    """How many values of the index are under each configured key (and under none of them)."""
    attribute = target.attribute
    total = session.scalar(sa.select(sa.func.count()).where(attribute.is_not(None))) or 0
    counts = {}
    for key_id in keyring.ids:
        counts[key_id] = session.scalar(
            sa.select(sa.func.count()).where(_under(attribute, key_id))) or 0
    counts[OTHER] = total - sum(counts.values())
    return counts


def values_to_reindex(session: Session, keyring: KeyRing, target: BlindIndexColumn) -> int:
    """How many values of the index are not under the current key."""
    attribute = target.attribute
    return session.scalar(sa.select(sa.func.count()).where(
        attribute.is_not(None), ~_under(attribute, keyring.current.id))) or 0


def reindex_batch(session: Session, keyring: KeyRing, target: BlindIndexColumn, *,
                  actor: Actor, batch_size: int = DEFAULT_BATCH_SIZE) -> int:
    """Recompute up to ``batch_size`` values under the current key; returns how many.

    Writes one :data:`~consentmgr.audit.actions.KEYS_REINDEX` entry for the
    batch (index name, key id, count: nothing personal) and flushes; 0
    means nothing was left, and no entry is written.
    """
    attribute = target.attribute
    indexer = BlindIndexer(keyring, target.label)
    rows = session.scalars(
        sa.select(target.model)
        .where(attribute.is_not(None), ~_under(attribute, keyring.current.id))
        .order_by(target.model.id).limit(batch_size)).all()
    if not rows:
        return 0
    for row in rows:
        text = target.text(row)
        setattr(row, target.column, None if text is None else indexer.compute(text))
    audit.record(audit_actions.KEYS_REINDEX, actor=actor,
                 details={"index": target.name, "to": keyring.current.id,
                          "reindexed": len(rows)})
    session.flush()
    return len(rows)
