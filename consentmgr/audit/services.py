"""The audit trail: append entries, read them back, verify the chain, checkpoint it.

Every service that changes or reveals customer data calls :func:`record` in
the same transaction as the change, so both commit or roll back together
(GDPR Art. 5(2) accountability, Art. 30 records of processing). ``record``
only flushes; the request or command boundary commits.

Appending is serialised by the single ``audit_head`` row: :func:`record`
first updates it (``sequence = sequence + 1 ... RETURNING``), which takes
its write lock — a row lock on PostgreSQL, the database write lock on
SQLite — *before* the previous hash is read. A second writer waits at that
update until the first commits or rolls back, then reads the new head, so
the chain never forks and sequence numbers have no gaps; the primary key on
``sequence`` is the backstop. The lock is held until the caller's
transaction ends, so commit soon after ``record``. On PostgreSQL a unit of
work that locks other rows *and* records should do both in a consistent
order (the consent ledger records first); otherwise two such transactions
can deadlock, and PostgreSQL aborts one of them.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import re
import uuid
from typing import Any, Mapping, Sequence

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from consentmgr.actors import Actor
from consentmgr.audit import actions
from consentmgr.audit.chain import ChainVerifier, VerifyResult, entry_hash
from consentmgr.audit.checkpoints import CheckpointFormatError, SignedCheckpoint
from consentmgr.audit.models import GENESIS_HASH, AuditCheckpoint, AuditEntry, AuditHead
from consentmgr.crypto import BlindIndexer, KeyRing
from consentmgr.crypto.signing import key_id
from consentmgr.errors import Conflict, ValidationFailed
from consentmgr.extensions import db

MAX_FIELDS = 32
MAX_JUSTIFICATION = 500
MAX_DETAILS = 16
MAX_DETAIL_TEXT = 200
MAX_SEARCH_LIMIT = 1000
DetailValue = str | int | bool | None

_TOKEN = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_ACTOR_TYPE = re.compile(r"^[a-z][a-z0-9_-]{0,15}$")
_FIELD = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
_DETAIL_KEY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_HEAD = AuditHead.__table__
_ENTRIES = AuditEntry.__table__
_VERIFY_BATCH = 1000


class InvalidAuditEntry(ValidationFailed):
    """An entry was refused: a malformed name, or something that looks like personal data."""


class ChainBroken(Conflict):
    """The chain does not verify, so it must not be signed; ``result`` says where."""

    def __init__(self, result: VerifyResult) -> None:
        self.result = result
        super().__init__(f"The audit trail is not intact; not signing it. {result.summary()}")


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _settings():
    return current_app.extensions["consentmgr"].settings


# ---------------------------------------------------------------- appending


def record(
    action: str,
    *,
    actor: Actor,
    outcome: str = actions.SUCCESS,
    subject_id: uuid.UUID | None = None,
    fields: Sequence[str] = (),
    reason_code: str | None = None,
    justification: str | None = None,
    request_id: str | None = None,
    client_address: str | None = None,
    details: Mapping[str, DetailValue] | None = None,
) -> AuditEntry:
    """Append one entry to the audit trail in the caller's transaction.

    ``fields`` are field *names* (``["phone"]``), never values; ``details``
    is a small mapping of non-personal facts (``{"purpose": "analytics"}``);
    ``client_address`` is stored only as a keyed hash. The actor is stored
    by type, id and role; a display name is personal data and is not kept.
    Raises :class:`InvalidAuditEntry` for malformed input (nothing is
    written). Flushes, never commits; the head stays locked until the
    caller's transaction ends.
    """
    values = _validated(
        action=action, actor=actor, outcome=outcome, subject_id=subject_id, fields=fields,
        reason_code=reason_code, justification=justification, request_id=request_id,
        client_address=client_address, details=details,
    )
    session = db.session
    sequence, prev_hash = _advance_head(session)
    # Taken after the head lock, so times follow sequence order (clock permitting).
    values.update(sequence=sequence, prev_hash=prev_hash, occurred_at=_utcnow())
    values["hash"] = entry_hash(values)
    entry = AuditEntry(**values)
    session.add(entry)
    session.execute(sa.update(_HEAD).where(_HEAD.c.id == 1).values(hash=values["hash"]))
    session.flush()
    return entry


def _advance_head(session: Session) -> tuple[int, str]:
    """Lock the head, claim the next sequence number; return it and the previous hash."""
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


def _restore_head(session: Session) -> None:
    """Recreate a missing head row from the last entry (fresh or emptied database).

    ``ON CONFLICT DO NOTHING``: if another transaction recreates it first,
    this insert waits for that one and then yields to it.
    """
    last = session.execute(
        sa.select(_ENTRIES.c.sequence, _ENTRIES.c.hash).order_by(_ENTRIES.c.sequence.desc()).limit(1)
    ).one_or_none()
    values = {"id": 1, "sequence": last.sequence if last else 0,
              "hash": last.hash if last else GENESIS_HASH}
    dialect = session.get_bind(clause=_HEAD).dialect.name
    if dialect == "postgresql":
        statement = postgresql.insert(_HEAD).values(values).on_conflict_do_nothing(
            index_elements=["id"])
    elif dialect == "sqlite":
        statement = sqlite.insert(_HEAD).values(values).on_conflict_do_nothing(
            index_elements=["id"])
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        statement = sa.insert(_HEAD).values(values)
    session.execute(statement)


def _validated(*, action: str, actor: Actor, outcome: str, subject_id: Any,
               fields: Sequence[str], reason_code: str | None, justification: str | None,
               request_id: str | None, client_address: str | None,
               details: Mapping[str, Any] | None) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}

    def refuse(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    if not actions.is_valid_action(action):
        refuse("action", "An action name is lower case letters, digits, dots and hyphens.")
    if not isinstance(outcome, str) or not actions.OUTCOME_PATTERN.match(outcome):
        refuse("outcome", "An outcome is a short lower-case word such as 'success'.")
    if not isinstance(actor, Actor) or not _ACTOR_TYPE.match(actor.type or ""):
        refuse("actor", "The actor needs a type such as 'staff', 'customer' or 'system'.")
    elif not actor.id or len(actor.id) > 64 or not actor.id.isprintable() or "@" in actor.id:
        # Actors are stored by opaque id; an email address here would be personal data.
        refuse("actor", "The actor id must be an opaque id of at most 64 characters, not an email.")
    elif actor.role is not None and not _TOKEN.match(actor.role):
        refuse("actor", "The actor role must be a short lower-case word.")

    subject = None
    if subject_id is not None:
        try:
            subject = subject_id if isinstance(subject_id, uuid.UUID) else uuid.UUID(str(subject_id))
        except ValueError:
            refuse("subject_id", "The subject must be a customer id (UUID).")

    if isinstance(fields, str):
        fields = [fields]
    names: list[str] = []
    for name in fields or ():
        if not isinstance(name, str) or not _FIELD.match(name):
            refuse("fields", "Field names only (such as 'phone'), never values.")
            break
        if name not in names:
            names.append(name)
    if len(names) > MAX_FIELDS:
        refuse("fields", f"At most {MAX_FIELDS} field names per entry.")

    if reason_code is not None and (not isinstance(reason_code, str) or not _TOKEN.match(reason_code)):
        refuse("reason_code", "A reason code is a short lower-case code such as 'support-ticket'.")

    if justification is not None:
        if not isinstance(justification, str):
            refuse("justification", "The justification must be text.")
        else:
            justification = justification.strip() or None
            if justification and len(justification) > MAX_JUSTIFICATION:
                refuse("justification",
                       f"Keep the justification to {MAX_JUSTIFICATION} characters or fewer.")
            elif justification and not all(c.isprintable() or c == "\n" for c in justification):
                refuse("justification", "The justification contains characters that cannot be stored.")

    if request_id is not None and (not isinstance(request_id, str) or not _REQUEST_ID.match(request_id)):
        refuse("request_id", "A request id is at most 64 letters, digits, '.', '_', ':' or '-'.")

    hashed_client = None
    if client_address is not None:
        if not isinstance(client_address, str) or len(client_address) > 256:
            refuse("client_address", "The client address must be text of at most 256 characters.")
        elif client_address.strip():
            hashed_client = hash_client_address(client_address)

    clean_details = _validated_details(details, refuse)
    if errors:
        raise InvalidAuditEntry(errors)
    return {
        "actor_type": actor.type,
        "actor_id": actor.id,
        "actor_role": actor.role,
        "action": action,
        "outcome": outcome,
        "subject_id": subject,
        "fields": names,
        "reason_code": reason_code,
        "justification": justification,
        "request_id": request_id,
        "client_hash": hashed_client,
        "details": clean_details,
    }


def _validated_details(details: Mapping[str, Any] | None, refuse) -> dict[str, DetailValue]:
    if details is None:
        return {}
    if not isinstance(details, Mapping) or len(details) > MAX_DETAILS:
        refuse("details", f"Details are a mapping of at most {MAX_DETAILS} entries.")
        return {}
    clean: dict[str, DetailValue] = {}
    for key, value in details.items():
        if not isinstance(key, str) or not _DETAIL_KEY.match(key):
            refuse("details", "Detail names are short lower-case identifiers.")
        elif isinstance(value, bool) or value is None:
            clean[key] = value
        elif isinstance(value, int):
            if abs(value) >= 2**63:
                refuse("details", f"Detail '{key}' is too large.")
            clean[key] = value
        elif isinstance(value, str):
            # A cheap guard against an email address slipping into the trail.
            if len(value) > MAX_DETAIL_TEXT or "@" in value or not value.isprintable():
                refuse("details", f"Detail '{key}' must be short, printable, non-personal text.")
            clean[key] = value
        else:
            refuse("details", f"Detail '{key}' must be text, a whole number, true/false or empty.")
    return clean


@functools.lru_cache(maxsize=4)
def _client_indexer(keyring: KeyRing) -> BlindIndexer:
    # Its own HKDF info label ("consentmgr/blind-index/audit-client-address"),
    # so this MAC key is never the one that indexes email addresses.
    return BlindIndexer(keyring, "audit-client-address")


def _normalise_address(address: str) -> str:
    text = address.strip().lower()
    try:
        return ipaddress.ip_address(text).compressed
    except ValueError:
        return text


def hash_client_address(address: str) -> str:
    """The keyed hash (``keyid:hex``) the trail stores instead of a client address.

    An HMAC under a key derived from the current blind-index key: equal
    addresses give equal hashes (the DPO can correlate entries, or look up
    one address), but the address cannot be read back or brute-forced
    without the key.
    """
    return _client_indexer(_settings().blind_index_keys).compute(_normalise_address(address))


# ---------------------------------------------------------------- reading


def _subject(customer_id: uuid.UUID | str, name: str = "subject_id") -> uuid.UUID:
    try:
        return customer_id if isinstance(customer_id, uuid.UUID) else uuid.UUID(str(customer_id))
    except ValueError:
        raise ValidationFailed({name: ["Enter a customer id (a UUID)."]}) from None


def entries_for_customer(
    customer_id: uuid.UUID | str, *, actions: Sequence[str] | None = None
) -> list[AuditEntry]:
    """Entries about one customer, newest first; only ``actions`` if given.

    For the portal's "Who has accessed my data" page pass
    :data:`consentmgr.audit.actions.STAFF_ACCESS_ACTIONS` (GDPR Art. 15
    transparency about who processed the data). Resolve ``actor_id`` to a
    staff display name through the staff table; the trail holds ids only.
    """
    query = sa.select(AuditEntry).where(AuditEntry.subject_id == _subject(customer_id, "customer_id"))
    if actions is not None:
        query = query.where(AuditEntry.action.in_(list(actions)))
    return list(db.session.scalars(query.order_by(AuditEntry.sequence.desc())))


def _search_filters(*, actor_id: str | None, subject_id: uuid.UUID | str | None,
                    action: str | None, since: dt.date | None,
                    until: dt.date | None) -> list[sa.ColumnElement[bool]]:
    filters: list[sa.ColumnElement[bool]] = []
    if actor_id:
        filters.append(AuditEntry.actor_id == actor_id)
    if subject_id:
        filters.append(AuditEntry.subject_id == _subject(subject_id))
    if action:
        if action.endswith("*"):
            prefix = action[:-1].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            filters.append(AuditEntry.action.like(prefix + "%", escape="\\"))
        else:
            filters.append(AuditEntry.action == action)
    if since and until and since > until:
        raise ValidationFailed({"until": ["The end date must not be before the start date."]})
    # Dates are whole UTC days, both ends included.
    if since:
        filters.append(AuditEntry.occurred_at >= _day_start(since))
    if until:
        filters.append(AuditEntry.occurred_at < _day_start(until + dt.timedelta(days=1)))
    return filters


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.timezone.utc)


def search_entries(
    *,
    actor_id: str | None = None,
    subject_id: uuid.UUID | str | None = None,
    action: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[AuditEntry]:
    """Entries matching every given filter, newest first (the DPO's audit browser).

    ``action`` is an exact name, or a prefix ending in ``*`` (``"request.*"``);
    ``since``/``until`` are UTC dates, both included. Raises
    :class:`~consentmgr.errors.ValidationFailed` for a malformed subject id,
    an end before the start, or a limit outside 1..1000.
    """
    if not 1 <= limit <= MAX_SEARCH_LIMIT:
        raise ValidationFailed({"limit": [f"Show between 1 and {MAX_SEARCH_LIMIT} entries."]})
    if offset < 0:
        raise ValidationFailed({"offset": ["The offset cannot be negative."]})
    filters = _search_filters(actor_id=actor_id, subject_id=subject_id, action=action,
                              since=since, until=until)
    query = (sa.select(AuditEntry).where(*filters).order_by(AuditEntry.sequence.desc())
             .limit(limit).offset(offset))
    return list(db.session.scalars(query))


def count_entries(
    *,
    actor_id: str | None = None,
    subject_id: uuid.UUID | str | None = None,
    action: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> int:
    """How many entries :func:`search_entries` would page through with these filters."""
    filters = _search_filters(actor_id=actor_id, subject_id=subject_id, action=action,
                              since=since, until=until)
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(*filters))


# ---------------------------------------------------------------- verifying


def verify_chain(
    session: Session | None = None, *, checkpoint: SignedCheckpoint | None = None
) -> VerifyResult:
    """Check the whole chain; read-only.

    Every entry must hash to its stored hash, link to its predecessor and
    follow it without a gap; the last one must match the recorded head.
    Then ``checkpoint`` (typically read from off-box storage) and every
    checkpoint stored in the database must carry a valid signature by the
    configured audit signing key and match the chain at their sequence
    (a chain shorter than a checkpoint lost its newest entries).
    """
    session = session or db.session
    trusted = _settings().audit_signing_key
    # Checkpoints first: any entry a checkpoint covers was committed with it,
    # so the entries read afterwards include it.
    stored = _stored_checkpoints(session)
    remember = {c.sequence for c in stored if isinstance(c, SignedCheckpoint)}
    if checkpoint is not None:
        remember.add(checkpoint.sequence)
    verifier = ChainVerifier(remember)

    # One statement, so entries and head come from one snapshot.
    statement = (
        sa.select(_ENTRIES, _HEAD.c.sequence.label("head_sequence"),
                  _HEAD.c.hash.label("head_hash"))
        .select_from(_ENTRIES.outerjoin(_HEAD, sa.true()))
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
        if item.key_id == key_id(trusted):
            problem = item.verify(trusted)
            if problem:
                verifier.fail(f"{label}: {problem}")
                continue
        # Signed by an earlier (rotated) key: still compare it with the chain.
        verifier.check_checkpoint(item.sequence, item.head_hash, label)
    return verifier.result()


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


# ---------------------------------------------------------------- checkpoints


def create_checkpoint(*, actor: Actor) -> SignedCheckpoint:
    """Sign the chain head with the audit signing key and store the checkpoint.

    Verifies the chain first and raises :class:`ChainBroken` rather than
    vouch for a tampered chain. The checkpoint covers its own audit entry
    (``audit.checkpoint``). Store the returned document off the box too
    (``to_json()``): a copy only in the database can be deleted with it.
    Flushes, never commits.
    """
    verified = verify_chain()
    if not verified.ok:
        raise ChainBroken(verified)
    entry = record(actions.AUDIT_CHECKPOINT, actor=actor,
                   details={"previous_head": verified.head_sequence})
    checkpoint = SignedCheckpoint.sign(sequence=entry.sequence, head_hash=entry.hash,
                                       created_at=entry.occurred_at,
                                       key=_settings().audit_signing_key)
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


def load_checkpoint(text: str | bytes) -> SignedCheckpoint:
    """Read a checkpoint document (from ``to_json()``); raises :class:`CheckpointFormatError`."""
    return SignedCheckpoint.from_json(text)

