"""Appending to the audit trail: validate an entry, write it in the caller's transaction.

Every service that changes or reveals customer data calls :func:`record` in
the same transaction as the change, so both commit or roll back together
(GDPR Art. 5(2) accountability, Art. 30 records of processing). ``record``
never commits; the request or command boundary does.

Where the entry's place in the hash chain comes from depends on the
database (:mod:`consentmgr.audit.sequencer`). On PostgreSQL the entry is
inserted with its content and time only; writers share no lock, and the
sequencer in the worker gives it its sequence number, previous hash and
hash within ``AUDIT_SEQUENCE_DELAY_SECONDS`` of the commit. On SQLite,
which lets one transaction write at a time anyway, ``record`` claims the
next position at once: it updates the single ``audit_head`` row first
(taking the write lock) and then reads the previous hash, so the chain
never forks.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from typing import Any, Mapping, Sequence

import sqlalchemy as sa

from consentmgr.actors import Actor
from consentmgr.audit import actions
from consentmgr.audit.chain import entry_hash
from consentmgr.audit.models import AuditEntry
from consentmgr.audit.sequencer import claim_inline, sequenced_inline, set_head_hash
from consentmgr.errors import ValidationFailed
from consentmgr.extensions import db
from consentmgr.runtime import of_session
from consentmgr.sql import as_uuid, insert_stored, utcnow

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
    written). Never commits. On SQLite the entry is flushed with its place
    in the chain and the head stays locked until the caller's transaction
    ends; on PostgreSQL it is inserted at once, without a place yet.
    """
    values = _validated(
        action=action, actor=actor, outcome=outcome, subject_id=subject_id, fields=fields,
        reason_code=reason_code, justification=justification, request_id=request_id,
        client_address=client_address, details=details,
    )
    session = db.session
    if not sequenced_inline(session):
        # Placed after commit by the sequencer; inserted at once, with one Core
        # statement (the ORM's flush costs more CPU than the INSERT).
        return insert_stored(session, AuditEntry(**values, occurred_at=utcnow(), sequence=None,
                                                 prev_hash=None, hash=None))
    sequence, prev_hash = claim_inline(session)
    # Taken after the head lock, so times follow sequence order (clock permitting).
    values.update(sequence=sequence, prev_hash=prev_hash, occurred_at=utcnow())
    values["hash"] = entry_hash(values)
    entry = AuditEntry(**values)
    session.add(entry)
    set_head_hash(session, values["hash"])
    session.flush()
    return entry


#: The columns of an entry that waits for the sequencer: all but its id and its place.
_PENDING_COLUMNS = tuple(c.name for c in AuditEntry.__table__.columns
                         if c.name not in ("id", "sequence", "prev_hash", "hash"))
PENDING_PARAM_PREFIX = "audit_"


def pending_entry_params(action: str, *, actor: Actor, **entry: Any) -> dict[str, Any]:
    """The bind parameters of :func:`insert_pending_after` for one entry, validated as :func:`record`'s.

    Raises :class:`InvalidAuditEntry` like :func:`record` does. For a writer
    on PostgreSQL that inserts its entry inside its own statement, where
    entries are placed by the sequencer (``not sequenced_inline``).
    """
    values = _validated(
        action=action, actor=actor, outcome=entry.pop("outcome", actions.SUCCESS),
        subject_id=entry.pop("subject_id", None), fields=entry.pop("fields", ()),
        reason_code=entry.pop("reason_code", None), justification=entry.pop("justification", None),
        request_id=entry.pop("request_id", None), client_address=entry.pop("client_address", None),
        details=entry.pop("details", None))
    if entry:
        raise TypeError(f"unexpected audit entry arguments: {sorted(entry)}")
    values["occurred_at"] = utcnow()
    return {PENDING_PARAM_PREFIX + name: values.get(name) for name in _PENDING_COLUMNS}


def insert_pending_after(source: sa.CTE) -> sa.Insert:
    """An INSERT of one unplaced entry, run once per row of ``source``; it returns the entry's id.

    Selecting from ``source`` makes PostgreSQL run that statement first: a
    writer that takes a row lock there gets its insertion id only once it
    holds the lock (the ledger relies on this for its order). Parameters:
    ``audit_<column>``, from :func:`pending_entry_params`.
    """
    table = AuditEntry.__table__
    select = sa.select(*(sa.bindparam(PENDING_PARAM_PREFIX + name, type_=table.c[name].type)
                         for name in _PENDING_COLUMNS)).select_from(source)
    return sa.insert(table).from_select(list(_PENDING_COLUMNS), select).returning(table.c.id)


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
