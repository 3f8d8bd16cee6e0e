"""Idempotency-Key records: a POST done once per client and key, its answer replayed.

The boundary (``consentmgr.web.api.idempotency``) claims the key first in
the request's unit of work, runs the operation, and completes the record
with the answer in the same transaction, so the change and the stored
answer commit together. Records older than :data:`IDEMPOTENCY_TTL` (24
hours) are ignored, and deleted by the worker's hourly purge.

Nothing personal is kept in clear: the key as a blind index (label
``idempotency-key``, per client), the request as a keyed hash, and the
answer's body encrypted under the data key of the customer it is about.
An erasure clears that body (``consentmgr.apiclients.traces``) and
destroys the key; a replay then gets :class:`AnswerErased` (a 409) rather
than the request being done again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass

import sqlalchemy as sa

from consentmgr.apiclients.auth import AuthenticatedClient
from consentmgr.apiclients.models import IdempotencyRecord
from consentmgr.crypto import BlindIndexer
from consentmgr.errors import Conflict
from consentmgr.extensions import db
from consentmgr.keys.services import DataKeyUnavailable
from consentmgr.runtime import of_session
from consentmgr.sql import utcnow

IDEMPOTENCY_TTL = dt.timedelta(hours=24)


class IdempotencyKeyReused(Conflict):
    """The same Idempotency-Key arrived with a different request."""

    problem = "idempotency-key-reused"

    def __init__(self) -> None:
        super().__init__("This Idempotency-Key was already used with a different request; "
                         "use a new key for a new request.")


class AnswerErased(Conflict):
    """The stored answer was about a customer who has since been erased: it is not kept."""

    def __init__(self) -> None:
        super().__init__("The customer this request was about has been erased; its answer "
                         "is no longer kept. Use a new key for a new request.")


@dataclass(frozen=True)
class StoredResponse:
    """The first answer to an idempotent request, to be replayed as it was.

    ``body`` is None for an answer about no customer: only its status and
    Location were kept.
    """

    status_code: int
    body: str | None
    location: str | None


def request_fingerprint(method: str, path: str, body: bytes, *, secret: str) -> str:
    """A keyed hash identifying a request: method, path and (canonical JSON) body.

    Keyed with a key derived from ``secret`` (the app's secret key), so the
    stored hash cannot be tested against guessed bodies (which hold
    personal data); JSON is canonicalised, so key order and whitespace do
    not make a retry look like a different request.
    """
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = body
    key = hashlib.sha256(b"consentmgr idempotency\0" + secret.encode("utf-8")).digest()
    message = method.upper().encode() + b"\n" + path.encode("utf-8") + b"\n" + canonical
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def key_indexer() -> BlindIndexer:
    """The blind indexer for Idempotency-Key values."""
    return of_session(db.session).indexer("idempotency-key")


def indexed_key(client_id: uuid.UUID, key: str) -> str:
    """What the blind index is computed over: the client's id and its key (visible ASCII)."""
    return f"{client_id}\x00{key}"


def _find_record(client_id: uuid.UUID, key: str) -> IdempotencyRecord | None:
    # Every configured index key matches: records written before a move to
    # a new key are still found while they live.
    candidates = key_indexer().candidates(indexed_key(client_id, key))
    return db.session.scalar(sa.select(IdempotencyRecord).where(
        IdempotencyRecord.client_id == client_id, IdempotencyRecord.key_index.in_(candidates)))


def _replay_or_refuse(record: IdempotencyRecord, request_hash: str) -> StoredResponse:
    if not hmac.compare_digest(record.request_hash, request_hash):
        raise IdempotencyKeyReused()
    if record.customer_id is None:
        return StoredResponse(record.status_code, None, record.location)
    if record._response_body is None:  # cleared by the customer's erasure
        raise AnswerErased()
    return StoredResponse(record.status_code, record.response_body, record.location)


def claim_idempotency_key(
    client: AuthenticatedClient, key: str, request_hash: str, *, now: dt.datetime | None = None,
) -> StoredResponse | IdempotencyRecord:
    """Claim ``key`` for this request, or return the stored first answer to replay.

    Returns the new (pending) record when the key is fresh: fill it with
    :func:`complete_idempotency_key` in the same transaction as the change.
    Raises :class:`IdempotencyKeyReused` when the key came with another
    request, :class:`AnswerErased` when the answer was about a customer
    erased since. Call it first in the unit of work. When a concurrent request
    with the same key committed first, the flush raises SQLAlchemy's
    ``IntegrityError`` (on PostgreSQL after waiting for that request): the
    boundary then rolls back and asks :func:`stored_response`. Records
    older than 24 hours are ignored.
    """
    now = now or utcnow()
    existing = _find_record(client.id, key)
    if existing is not None:
        if existing.created_at > now - IDEMPOTENCY_TTL:
            return _replay_or_refuse(existing, request_hash)
        db.session.execute(sa.delete(IdempotencyRecord).where(IdempotencyRecord.id == existing.id))
    record = IdempotencyRecord(client_id=client.id, request_hash=request_hash, status_code=0,
                               key_index=key_indexer().compute(indexed_key(client.id, key)),
                               created_at=now)
    db.session.add(record)
    db.session.flush()
    return record


def stored_response(client: AuthenticatedClient, key: str, request_hash: str) -> StoredResponse:
    """The answer of the request that claimed ``key`` first, to replay.

    Raises :class:`IdempotencyKeyReused` when that request was another one,
    and :class:`~consentmgr.errors.Conflict` when it has not committed.
    """
    winner = _find_record(client.id, key)
    if winner is None:  # pragma: no cover - the winner rolled back after all
        raise Conflict("A request with this Idempotency-Key is in progress; retry.")
    return _replay_or_refuse(winner, request_hash)


def complete_idempotency_key(record: IdempotencyRecord, status_code: int, body: str,
                             location: str | None, *, customer_id: uuid.UUID | None) -> None:
    """Store the answer for replays, its body encrypted under ``customer_id``'s data key.

    ``customer_id`` names the customer the answer is about. Without one no
    body is kept (a replay has the status and Location only): there is no
    key it could be encrypted under that an erasure would destroy.
    """
    record.status_code = status_code
    record.location = location
    record.customer_id = customer_id
    if customer_id is not None:
        try:
            record.response_body = body
        except DataKeyUnavailable:
            # This very request erased the customer (an approved erasure):
            # their key is gone, and so is the answer, as after a later erasure.
            record.location = None
    db.session.flush()


def purge_idempotency_keys(*, now: dt.datetime | None = None) -> int:
    """Delete records older than 24 hours; returns how many.

    The worker runs it hourly (``apiclients.purge-idempotency-keys``), so no
    record outlives its 24 hours by more than an hour.
    """
    now = now or utcnow()
    result = db.session.execute(sa.delete(IdempotencyRecord).where(
        IdempotencyRecord.created_at <= now - IDEMPOTENCY_TTL))
    return result.rowcount or 0
