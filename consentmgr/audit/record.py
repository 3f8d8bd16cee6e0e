"""Appending to the audit trail: validate an entry, link it to the chain, flush.

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

import ipaddress
import re
import uuid
from typing import Any, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from consentmgr.actors import Actor
from consentmgr.audit import actions
from consentmgr.audit.chain import entry_hash
from consentmgr.audit.models import GENESIS_HASH, AuditEntry, AuditHead
from consentmgr.errors import ValidationFailed
from consentmgr.extensions import db
from consentmgr.runtime import of_session
from consentmgr.sql import as_uuid, upsert, utcnow

MAX_FIELDS = 32
MAX_JUSTIFICATION = 500
MAX_DETAILS = 16
MAX_DETAIL_TEXT = 200
DetailValue = str | int | bool | None

_TOKEN = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_ACTOR_TYPE = re.compile(r"^[a-z][a-z0-9_-]{0,15}$")
_FIELD = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
_DETAIL_KEY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_HEAD = AuditHead.__table__
_ENTRIES = AuditEntry.__table__


class InvalidAuditEntry(ValidationFailed):
    """An entry was refused: a malformed name, or something that looks like personal data."""


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
    values.update(sequence=sequence, prev_hash=prev_hash, occurred_at=utcnow())
    values["hash"] = entry_hash(values)
    entry = AuditEntry(**values)
    session.add(entry)
    session.execute(sa.update(_HEAD).where(_HEAD.c.id == 1).values(hash=values["hash"]))
    session.flush()
    return entry


def record_export(
    actor: Actor, *, filtered: bool, client_address: str | None = None,
    request_id: str | None = None,
) -> AuditEntry:
    """Record that ``actor`` exported the trail (all of it, or a ``filtered`` part).

    Reading the trail out of the application is itself accountable: the
    export is an entry of the trail it exports. Flushes, never commits.
    """
    return record(actions.AUDIT_EXPORTED, actor=actor, details={"filtered": bool(filtered)},
                  client_address=client_address, request_id=request_id)


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
    upsert(session, _HEAD, values, key=["id"], update=[])


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
        subject = as_uuid(subject_id)
        if subject is None:
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


def _normalise_address(address: str) -> str:
    text = address.strip().lower()
    try:
        return ipaddress.ip_address(text).compressed
    except ValueError:
        return text


def hash_client_address(address: str) -> str:
    """The keyed hash (``keyid:hex``) the trail stores instead of a client address.

    An HMAC under a key derived from the current blind-index key with its
    own label (``audit-client-address``), so it is never the MAC key that
    indexes email addresses: equal addresses give equal hashes (the DPO can
    correlate entries, or look up one address), but the address cannot be
    read back or brute-forced without the key.
    """
    indexer = of_session(db.session).indexer("audit-client-address")
    return indexer.compute(_normalise_address(address))
