"""Giving committed entries their place in the chain: sequence, previous hash, hash.

A request's transaction only inserts its entries (content and time, an
insertion ``id``, no chain position), so writers share no lock. The
sequencer then integrates committed entries in batches, the way a
transparency log's sequencer integrates queued leaves: in one transaction
it locks the chain head, numbers the oldest unsequenced entries
contiguously after it, links and hashes each, moves the head and, once per
``AUDIT_CHECKPOINT_SECONDS``, signs a checkpoint of the new head. A crash
mid-batch rolls the whole batch back; a rolled-back request left no entry
to sequence.

On SQLite, which has one writer at a time anyway, :func:`record` places an
entry inline (:func:`claim_inline`) and nothing waits here. On PostgreSQL
one worker at a time runs the loop (:mod:`consentmgr.audit.leader`); the
head row's lock makes a second sequencer (a take-over, ``audit checkpoint``)
wait for the batch in flight, never fork the chain.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from consentmgr.audit.chain import entry_hash
from consentmgr.audit.checkpoints import SignedCheckpoint
from consentmgr.audit.models import GENESIS_HASH, AuditCheckpoint, AuditEntry, AuditHead
from consentmgr.crypto.signing import PrivateKey
from consentmgr.sql import upsert, utcnow

log = logging.getLogger(__name__)

_HEAD = AuditHead.__table__
_ENTRIES = AuditEntry.__table__
_CHECKPOINTS = AuditCheckpoint.__table__

#: Entries integrated per transaction: big enough to keep up with thousands
#: of writes a second, small enough that a batch commits in milliseconds.
DEFAULT_BATCH = 2000
#: How long a committed entry may wait for its place (``audit verify`` fails beyond).
DEFAULT_MAX_DELAY = dt.timedelta(seconds=1)
#: How often the sequencer signs a checkpoint while entries keep coming.
DEFAULT_CHECKPOINT_EVERY = dt.timedelta(minutes=1)


def sequenced_inline(session: Session) -> bool:
    """True where :func:`record` places entries itself (SQLite: one writer anyway)."""
    return session.get_bind().dialect.name == "sqlite"


def max_delay(config) -> dt.timedelta:
    """The configured ``AUDIT_SEQUENCE_DELAY_SECONDS`` (default one second)."""
    seconds = config.get("AUDIT_SEQUENCE_DELAY_SECONDS")
    return DEFAULT_MAX_DELAY if seconds is None else dt.timedelta(seconds=float(seconds))


def checkpoint_every(config) -> dt.timedelta:
    """The configured ``AUDIT_CHECKPOINT_SECONDS`` (default one minute)."""
    seconds = config.get("AUDIT_CHECKPOINT_SECONDS")
    return DEFAULT_CHECKPOINT_EVERY if seconds is None else dt.timedelta(seconds=int(seconds))


def claim_inline(session: Session) -> tuple[int, str]:
    """Lock the head, claim the next sequence number; return it and the previous hash.

    The inline path (SQLite): ``sequence = sequence + 1 ... RETURNING`` takes
    the write lock before the previous hash is read, so two writers never
    extend the same head. The caller stores the entry's hash in the head.
    """
    claim = (
        sa.update(_HEAD)
        .where(_HEAD.c.id == 1)
        .values(sequence=_HEAD.c.sequence + 1)
        .returning(_HEAD.c.sequence, _HEAD.c.hash)
    )
    for _ in range(2):
        row = session.execute(claim).one_or_none()
        if row is not None:
            return int(row.sequence), row.hash
        _restore_head(session)
    raise RuntimeError("the audit chain head could not be created")  # pragma: no cover


def set_head_hash(session: Session, value: str) -> None:
    """Record ``value`` as the hash of the entry :func:`claim_inline` numbered."""
    session.execute(sa.update(_HEAD).where(_HEAD.c.id == 1).values(hash=value))


def _restore_head(session: Session) -> None:
    """Recreate a missing head row from the last entry (fresh or emptied database).

    ``ON CONFLICT DO NOTHING``: if another transaction recreates it first,
    this insert waits for that one and then yields to it.
    """
    last = session.execute(
        sa.select(_ENTRIES.c.sequence, _ENTRIES.c.hash).where(_ENTRIES.c.sequence.is_not(None))
        .order_by(_ENTRIES.c.sequence.desc()).limit(1)
    ).one_or_none()
    values = {"id": 1, "sequence": last.sequence if last else 0,
              "hash": last.hash if last else GENESIS_HASH}
    upsert(session, _HEAD, values, key=["id"], update=[])


def _locked_head(session: Session) -> tuple[int, str]:
    select_head = sa.select(_HEAD.c.sequence, _HEAD.c.hash).where(_HEAD.c.id == 1).with_for_update()
    row = session.execute(select_head).one_or_none()
    if row is None:
        _restore_head(session)
        row = session.execute(select_head).one()
    return int(row.sequence), row.hash


@dataclass(frozen=True)
class Batch:
    """What one :func:`sequence_pending` call integrated: entries ``first``..``last``."""

    first: int
    last: int
    head_hash: str
    checkpoint: SignedCheckpoint | None = None

    @property
    def count(self) -> int:
        return self.last - self.first + 1


_PLACE = (
    sa.update(_ENTRIES)
    .where(_ENTRIES.c.id == sa.bindparam("entry_id"), _ENTRIES.c.sequence.is_(None))
    .values(sequence=sa.bindparam("new_sequence"), prev_hash=sa.bindparam("new_prev_hash"),
            hash=sa.bindparam("new_hash"))
)


# PostgreSQL: the whole batch in one statement, arrays unnested into rows
# (an executemany would be one statement per entry).
_PLACE_ALL = sa.text(
    "UPDATE audit_entries AS e SET sequence = v.sequence, prev_hash = v.prev_hash, hash = v.hash "
    "FROM unnest(CAST(:ids AS bigint[]), CAST(:sequences AS bigint[]), "
    "CAST(:prev_hashes AS varchar[]), CAST(:hashes AS varchar[])) "
    "AS v(id, sequence, prev_hash, hash) WHERE e.id = v.id AND e.sequence IS NULL")


def _place(session: Session, placements: list[dict]) -> int:
    if session.get_bind().dialect.name != "postgresql":
        return session.execute(_PLACE, placements).rowcount
    return session.execute(_PLACE_ALL, {
        "ids": [p["entry_id"] for p in placements],
        "sequences": [p["new_sequence"] for p in placements],
        "prev_hashes": [p["new_prev_hash"] for p in placements],
        "hashes": [p["new_hash"] for p in placements],
    }).rowcount


def sequence_pending(
    session: Session, *, limit: int = DEFAULT_BATCH, signing_key: PrivateKey | None = None,
    checkpoint_every: dt.timedelta | None = None, now: dt.datetime | None = None,
) -> Batch | None:
    """Integrate up to ``limit`` unsequenced entries, oldest insertion first; None if none.

    Runs in the caller's transaction and leaves the head locked until it
    ends: commit right after. With ``signing_key`` and ``checkpoint_every``,
    also signs and stores a checkpoint of the new head when the last one is
    older than that (or there is none).
    """
    head_sequence, head_hash = _locked_head(session)
    rows = session.execute(
        sa.select(_ENTRIES).where(_ENTRIES.c.sequence.is_(None)).order_by(_ENTRIES.c.id)
        .limit(limit)
    ).mappings().all()
    if not rows:
        return None
    first = head_sequence + 1
    placements = []
    for row in rows:
        head_sequence += 1
        values = dict(row, sequence=head_sequence, prev_hash=head_hash)
        head_hash = entry_hash(values)
        placements.append({"entry_id": row["id"], "new_sequence": head_sequence,
                           "new_prev_hash": values["prev_hash"], "new_hash": head_hash})
    placed = _place(session, placements)
    if placed != len(placements):  # pragma: no cover - the head lock rules this out
        raise RuntimeError("audit entries were sequenced by someone else mid-batch")
    session.execute(sa.update(_HEAD).where(_HEAD.c.id == 1)
                    .values(sequence=head_sequence, hash=head_hash))
    checkpoint = None
    if signing_key is not None and checkpoint_every is not None:
        checkpoint = _checkpoint_if_due(session, head_sequence, head_hash, key=signing_key,
                                        every=checkpoint_every, now=now or utcnow())
    return Batch(first=first, last=head_sequence, head_hash=head_hash, checkpoint=checkpoint)


def drain(session: Session, *, limit: int = DEFAULT_BATCH) -> int:
    """Sequence every entry pending now, in the caller's transaction; how many.

    For ``audit checkpoint`` (which must sign a head that includes its own
    entry) and for tests; the worker commits batch by batch instead.
    """
    placed = 0
    while (batch := sequence_pending(session, limit=limit)) is not None:
        placed += batch.count
    return placed


def _checkpoint_if_due(session: Session, sequence: int, head_hash: str, *, key: PrivateKey,
                       every: dt.timedelta, now: dt.datetime) -> SignedCheckpoint | None:
    last = session.execute(
        sa.select(_CHECKPOINTS.c.created_at).order_by(_CHECKPOINTS.c.sequence.desc()).limit(1)
    ).scalar_one_or_none()
    if last is not None and now - last < every:
        return None
    checkpoint = SignedCheckpoint.sign(sequence=sequence, head_hash=head_hash, created_at=now,
                                       key=key)
    session.execute(sa.insert(_CHECKPOINTS).values(
        sequence=checkpoint.sequence, head_hash=checkpoint.head_hash,
        created_at=checkpoint.created_at, key_id=checkpoint.key_id, jws=checkpoint.jws))
    return checkpoint


@dataclass(frozen=True)
class Backlog:
    """Entries waiting for their place: how many, and when the oldest was written."""

    count: int
    oldest: dt.datetime | None

    def age(self, now: dt.datetime) -> dt.timedelta:
        return now - self.oldest if self.oldest is not None else dt.timedelta(0)


def backlog(session: Session, *, older_than: dt.datetime | None = None) -> Backlog:
    """Unsequenced entries (only those written before ``older_than``, if given)."""
    query = sa.select(sa.func.count(), sa.func.min(_ENTRIES.c.occurred_at)).where(
        _ENTRIES.c.sequence.is_(None))
    if older_than is not None:
        query = query.where(_ENTRIES.c.occurred_at < older_than)
    count, oldest = session.execute(query).one()
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=dt.timezone.utc)
    return Backlog(count=int(count), oldest=oldest)
