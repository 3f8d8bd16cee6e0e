"""Proving the trail intact: verify the chain, sign and keep checkpoints of its head.

The audit signing keys are an argument (one key or a :class:`SigningKeyRing`,
whose first key signs and every key verifies): the CLI and the DPO's screen
take them from the runtime's settings and pass them in.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from consentmgr.actors import Actor
from consentmgr.audit import actions, scan
from consentmgr.audit.chain import ChainVerifier, VerifyResult
from consentmgr.audit.checkpoints import CheckpointFormatError, SignedCheckpoint
from consentmgr.audit.models import AuditCheckpoint, AuditEntry, AuditHead
from consentmgr.audit.record import record
from consentmgr.audit.sequencer import DEFAULT_MAX_DELAY, backlog, drain
from consentmgr.crypto.signing import PrivateKey, SigningKeyRing
from consentmgr.errors import Conflict
from consentmgr.extensions import db
from consentmgr.runtime import of_session
from consentmgr.sql import utcnow

_HEAD = AuditHead.__table__
_ENTRIES = AuditEntry.__table__
_VERIFY_BATCH = 1000


class ChainBroken(Conflict):
    """The chain does not verify, so it must not be signed; ``result`` says where."""

    def __init__(self, result: VerifyResult) -> None:
        self.result = result
        super().__init__(f"The audit trail is not intact; not signing it. {result.summary()}")


AuditKeys = PrivateKey | SigningKeyRing


def _signing_keys(session: Session, given: AuditKeys | None) -> SigningKeyRing:
    # Boundaries pass the keys; without them, the app this session serves signs.
    if given is not None:
        return SigningKeyRing.of(given)
    return of_session(session).settings.audit_signing_keys


def verify_chain(
    session: Session | None = None, *, checkpoint: SignedCheckpoint | None = None,
    signing_key: AuditKeys | None = None, sequence_delay: dt.timedelta = DEFAULT_MAX_DELAY,
) -> VerifyResult:
    """Check the whole chain; read-only.

    Every entry must hash to its stored hash, link to its predecessor and
    follow it without a gap; the last one must match the recorded head.
    Then ``checkpoint`` (typically read from off-box storage) and every
    checkpoint stored in the database must carry a valid signature by a key
    of ``signing_key`` (the configured audit signing keys, the default: a
    ring, so checkpoints signed before a rotation still verify) and match
    the chain at their sequence (a chain shorter than a checkpoint lost its
    newest entries). A stored checkpoint by a key no longer in the ring is
    still compared with the chain. Last, no entry may have waited for its place
    in the chain longer than ``sequence_delay`` (boundaries pass the
    configured ``AUDIT_SEQUENCE_DELAY_SECONDS``): the sequencer is not
    running, or someone keeps entries out of the chain.
    """
    session = session or db.session
    trusted = _signing_keys(session, signing_key)
    # Checkpoints first: any entry a checkpoint covers was committed with it,
    # so the entries read afterwards include it.
    stored = _stored_checkpoints(session)
    remember = {c.sequence for c in stored if isinstance(c, SignedCheckpoint)}
    if checkpoint is not None:
        remember.add(checkpoint.sequence)
    verifier = ChainVerifier(remember)

    head, rows = _scan(session, verifier)
    if rows == 0:
        found = session.execute(sa.select(_HEAD.c.sequence, _HEAD.c.hash)).one_or_none()
        head = (int(found.sequence), found.hash) if found else None
    verifier.check_head(head)

    if checkpoint is not None and verifier.failure is None:
        problem = checkpoint.verify(trusted)
        if problem:
            verifier.fail(problem)
        else:
            verifier.check_checkpoint(checkpoint.sequence, checkpoint.head_hash,
                                      "the given checkpoint")
    for item in stored:
        if verifier.failure is not None:
            break
        if isinstance(item, str):
            verifier.fail(item)
            continue
        if checkpoint is not None and item.jws == checkpoint.jws:
            continue  # the given checkpoint was checked above
        label = f"the checkpoint stored for entry {item.sequence}"
        if item.key_id in trusted:
            problem = item.verify(trusted)
            if problem:
                verifier.fail(f"{label}: {problem}")
                continue
        # Signed by a retired key (no longer in the ring): still compare it with the chain.
        verifier.check_checkpoint(item.sequence, item.head_hash, label)
    if verifier.failure is None:
        _check_backlog(session, verifier, sequence_delay)
    return verifier.result()


def _scan(session: Session, verifier: ChainVerifier) -> tuple[tuple[int, str] | None, int]:
    """Feed every sequenced entry to ``verifier`` in order; the head read with them, and how many."""
    if scan.supported(session):
        # PostgreSQL: COPY rows, encoded by joining bytes, in two processes when long.
        return scan.scan_chain(session, verifier)
    # One statement, so entries and head come from one snapshot.
    statement = (
        sa.select(_ENTRIES, _HEAD.c.sequence.label("head_sequence"),
                  _HEAD.c.hash.label("head_hash"))
        .select_from(_ENTRIES.outerjoin(_HEAD, sa.true()))
        .where(_ENTRIES.c.sequence.is_not(None))
        .order_by(_ENTRIES.c.sequence)
        .execution_options(yield_per=_VERIFY_BATCH)
    )
    head: tuple[int, str] | None = None
    rows = 0
    result = session.execute(statement)
    try:
        for row in result:
            values = row._mapping
            if rows == 0 and values["head_sequence"] is not None:
                head = (int(values["head_sequence"]), values["head_hash"])
            rows += 1
            if not verifier.feed(values):
                break
    finally:
        result.close()
    return head, rows


def _check_backlog(session: Session, verifier: ChainVerifier, delay: dt.timedelta) -> None:
    late = backlog(session, older_than=utcnow() - delay)
    if late.count:
        verifier.fail(
            f"{late.count} entr{'y' if late.count == 1 else 'ies'} written more than "
            f"{delay.total_seconds():g} s ago {'has' if late.count == 1 else 'have'} no place in "
            f"the chain yet (oldest written {late.oldest.isoformat()}): is the worker's "
            "sequencer running?")


def _stored_checkpoints(session: Session) -> list[SignedCheckpoint | str]:
    """Checkpoints in the database, oldest first; a string describes an unreadable one."""
    found: list[SignedCheckpoint | str] = []
    rows = session.execute(
        sa.select(AuditCheckpoint.sequence, AuditCheckpoint.head_hash, AuditCheckpoint.jws)
        .order_by(AuditCheckpoint.sequence)
    )
    for sequence, head_hash, jws in rows:
        try:
            checkpoint = SignedCheckpoint.from_jws(jws)
        except CheckpointFormatError:
            found.append(f"the checkpoint stored for entry {sequence} cannot be read")
            continue
        if (checkpoint.sequence, checkpoint.head_hash) != (sequence, head_hash):
            found.append(f"the checkpoint stored for entry {sequence} differs from its signature")
            continue
        found.append(checkpoint)
    return found


def create_checkpoint(*, actor: Actor, signing_key: AuditKeys | None = None) -> SignedCheckpoint:
    """Sign the chain head with ``signing_key`` and store the checkpoint.

    ``signing_key`` is the audit signing key or ring (default: the configured
    ring); the first key of a ring signs, every key verifies the chain first.
    Verifies the chain first and raises :class:`ChainBroken` rather than
    vouch for a tampered chain. The checkpoint covers its own audit entry
    (``audit.checkpoint``): where entries are sequenced after commit, every
    entry waiting is sequenced first, in this transaction. Store the returned
    document off the box too (``to_json()``): a copy only in the database
    can be deleted with it. Flushes, never commits.
    """
    session = db.session
    ring = _signing_keys(session, signing_key)
    verified = verify_chain(signing_key=ring)
    if not verified.ok:
        raise ChainBroken(verified)
    entry = record(actions.AUDIT_CHECKPOINT, actor=actor,
                   details={"previous_head": verified.head_sequence})
    session.flush()
    drain(session)
    head = session.execute(sa.select(_HEAD.c.sequence, _HEAD.c.hash)).one()
    checkpoint = SignedCheckpoint.sign(sequence=int(head.sequence), head_hash=head.hash,
                                       created_at=entry.occurred_at, key=ring.current)
    db.session.add(AuditCheckpoint(sequence=checkpoint.sequence, head_hash=checkpoint.head_hash,
                                   created_at=checkpoint.created_at, key_id=checkpoint.key_id,
                                   jws=checkpoint.jws))
    db.session.flush()
    return checkpoint


def list_checkpoints(*, limit: int = 20) -> list[SignedCheckpoint]:
    """The newest stored checkpoints, newest first (unverified; see :func:`verify_chain`)."""
    tokens = db.session.scalars(
        sa.select(AuditCheckpoint.jws).order_by(AuditCheckpoint.sequence.desc()).limit(limit)
    )
    return [SignedCheckpoint.from_jws(token) for token in tokens]


def checkpoints_by_key(session: Session | None = None) -> dict[str, int]:
    """How many stored checkpoints each audit signing key (by ``kid``) signed.

    Before an audit key leaves the ring: its stored checkpoints are then only
    compared with the chain, and its off-box copies no longer verify.
    """
    rows = (session or db.session).execute(
        sa.select(AuditCheckpoint.key_id, sa.func.count()).group_by(AuditCheckpoint.key_id))
    return {kid: int(count) for kid, count in rows}


def load_checkpoint(text: str | bytes) -> SignedCheckpoint:
    """Read a checkpoint document (from ``to_json()``); raises :class:`CheckpointFormatError`."""
    return SignedCheckpoint.from_json(text)
