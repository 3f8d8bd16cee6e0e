"""Rules for API clients: create (key shown once), revoke, authenticate; external refs.

Authentication is on the hot path of every API call, so it is one indexed
lookup by key hash, and active clients are kept in a small per-process
cache for :data:`DEFAULT_CACHE_SECONDS` seconds. The trade-off: a key
revoked through another process (the CLI, another gunicorn worker or host)
keeps working here for at most that long; a revocation in this process
takes effect at once. Unknown and revoked keys are never cached, so a new
key works immediately.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import sqlalchemy as sa
from flask import current_app

from consentmgr.actors import Actor
from consentmgr.apiclients.models import ApiClient, ExternalRef, IdempotencyRecord
from consentmgr.audit import actions as audit_actions
from consentmgr.audit import services as audit
from consentmgr.customers.models import Customer
from consentmgr.customers.services import (
    create_customer,
    find_by_email,
    get_customer,
    rectify_customer,
)
from consentmgr.errors import Conflict, DomainError, NotFound, ValidationFailed
from consentmgr.extensions import db

SCOPES = ("customers:read", "customers:write", "consent:read", "consent:write", "events:read")
KEY_MARKER = "cmk_"  # makes a leaked key recognisable to secret scanners
PREFIX_LENGTH = 12  # "cmk_" and 8 random characters
DEFAULT_CACHE_SECONDS = 5.0
LAST_USED_EVERY = 60.0  # seconds between last-used updates per client and process
MAX_NAME = 100
MAX_EXTERNAL_REF = 128
IDEMPOTENCY_TTL = dt.timedelta(hours=24)


class InvalidApiKey(DomainError):
    """The request carries no usable API key: missing, unknown or revoked.

    ``reason`` is ``"missing"``, ``"malformed"``, ``"unknown"`` or ``"revoked"``.
    """

    status = 401
    title = "Unauthorized"

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


class ScopeMissing(DomainError):
    """The key is valid but lacks the scope this operation needs."""

    status = 403
    title = "Forbidden"

    def __init__(self, scope: str) -> None:
        self.scope = scope
        super().__init__(f"This API key lacks the scope '{scope}' that this operation needs.")


class ApiClientNotFound(NotFound):
    """No API client with that id or key prefix."""

    def __init__(self) -> None:
        super().__init__("No API client with that id or key prefix.")


@dataclass(frozen=True)
class AuthenticatedClient:
    """What a request knows about its caller: safe to cache and share between sessions."""

    id: uuid.UUID
    name: str
    key_prefix: str
    scopes: frozenset[str]

    @property
    def actor(self) -> Actor:
        """The actor for the audit trail and the consent ledger."""
        return Actor("api-client", str(self.id), role=None)

    def has_scope(self, scope: str) -> bool:
        """True if the key was granted ``scope``."""
        return scope in self.scopes


# ----------------------------------------------------------------- keys


def generate_key() -> str:
    """A new API key: the marker and 32 random bytes, URL-safe base64 (47 characters)."""
    return KEY_MARKER + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """The stored form of a key: hex SHA-256."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _clean_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationFailed({"name": ["Give the client a name, e.g. the system it is for."]})
    name = name.strip()
    if len(name) > MAX_NAME or not name.isprintable():
        raise ValidationFailed({"name": [f"Use at most {MAX_NAME} printable characters."]})
    return name


def _clean_scopes(scopes: Iterable[str] | str) -> list[str]:
    if isinstance(scopes, str):
        scopes = scopes.replace(",", " ").split()
    wanted = [s.strip() for s in scopes if s and s.strip()]
    unknown = sorted(set(wanted) - set(SCOPES))
    if unknown:
        raise ValidationFailed({"scopes": [
            f"Unknown scope(s): {', '.join(unknown)}. Choose from: {', '.join(SCOPES)}."]})
    if not wanted:
        raise ValidationFailed({"scopes": [f"Give at least one scope from: {', '.join(SCOPES)}."]})
    # Canonical order, no duplicates.
    return [s for s in SCOPES if s in wanted]


def create_client(name: str, scopes: Iterable[str] | str, *, actor: Actor) -> tuple[ApiClient, str]:
    """Create a client; returns it and its key, which is shown once and never stored."""
    clean_name = _clean_name(name)
    clean_scopes = _clean_scopes(scopes)
    key = generate_key()
    client = ApiClient(
        id=uuid.uuid4(), name=clean_name, key_prefix=key[:PREFIX_LENGTH], key_hash=hash_key(key),
        scopes=clean_scopes, created_by=str(actor)[:128],
    )
    db.session.add(client)
    db.session.flush()
    audit.record(audit_actions.API_CLIENT_CREATED, actor=actor,
                 details={"client_id": str(client.id), "key_prefix": client.key_prefix,
                          "scopes": " ".join(clean_scopes)})
    return client, key


def list_clients() -> list[ApiClient]:
    """Every client, oldest first (revoked ones included)."""
    return list(db.session.scalars(sa.select(ApiClient).order_by(ApiClient.created_at, ApiClient.id)))


def get_client(reference: uuid.UUID | str) -> ApiClient:
    """The client with this id or key prefix; raises :class:`ApiClientNotFound`."""
    try:
        key = reference if isinstance(reference, uuid.UUID) else uuid.UUID(str(reference))
    except ValueError:
        matches = list(db.session.scalars(
            sa.select(ApiClient).where(ApiClient.key_prefix == str(reference)[:PREFIX_LENGTH])))
        if len(matches) > 1:
            raise Conflict("More than one client has that key prefix; use the client id.") from None
        if not matches:
            raise ApiClientNotFound() from None
        return matches[0]
    client = db.session.get(ApiClient, key)
    if client is None:
        raise ApiClientNotFound()
    return client


def revoke_client(client: ApiClient, *, actor: Actor, now: dt.datetime | None = None) -> ApiClient:
    """Revoke the client's key for good. Revoking twice changes nothing and writes no entry."""
    if client.revoked_at is not None:
        return client
    client.revoked_at = now or dt.datetime.now(dt.timezone.utc)
    db.session.flush()
    _cache.forget(client.key_hash)
    audit.record(audit_actions.API_CLIENT_REVOKED, actor=actor,
                 details={"client_id": str(client.id), "key_prefix": client.key_prefix})
    return client


# -------------------------------------------------------- authentication


class _ClientCache:
    """Active clients by key hash, per application, for a few seconds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[int, str], tuple[float, AuthenticatedClient]] = {}
        self._touched: dict[tuple[int, uuid.UUID], float] = {}

    @staticmethod
    def _app() -> int:
        return id(current_app._get_current_object())

    def get(self, key_hash: str, ttl: float) -> AuthenticatedClient | None:
        entry = self._entries.get((self._app(), key_hash))
        if entry is None or time.monotonic() - entry[0] >= ttl:
            return None
        return entry[1]

    def put(self, key_hash: str, client: AuthenticatedClient) -> None:
        with self._lock:
            if len(self._entries) > 10_000:  # a bound, not an LRU: clients are few
                self._entries.clear()
            self._entries[(self._app(), key_hash)] = (time.monotonic(), client)

    def forget(self, key_hash: str) -> None:
        with self._lock:
            self._entries.pop((self._app(), key_hash), None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._touched.clear()

    def touch_due(self, client_id: uuid.UUID) -> bool:
        """True (once per interval) when this process should record a use of the client."""
        now = time.monotonic()
        key = (self._app(), client_id)
        last = self._touched.get(key)
        if last is not None and now - last < LAST_USED_EVERY:
            return False
        with self._lock:
            self._touched[key] = now
        return True


_cache = _ClientCache()


def forget_cached_clients() -> None:
    """Empty the authentication cache (tests; after bulk changes)."""
    _cache.clear()


def _cache_seconds() -> float:
    return float(current_app.config.get("API_KEY_CACHE_SECONDS", DEFAULT_CACHE_SECONDS))


def authenticate(key: str | None) -> AuthenticatedClient:
    """The active client holding ``key``; raises :class:`InvalidApiKey`.

    At most one indexed query (none while the client is cached).
    """
    if not key:
        raise InvalidApiKey("missing", "Send your API key as 'Authorization: Bearer <key>'.")
    if not key.startswith(KEY_MARKER) or len(key) > 128:
        raise InvalidApiKey("malformed", "That is not an API key of this service.")
    digest = hash_key(key)
    ttl = _cache_seconds()
    cached = _cache.get(digest, ttl) if ttl > 0 else None
    if cached is not None:
        return cached
    row = db.session.execute(
        sa.select(ApiClient.id, ApiClient.name, ApiClient.key_prefix, ApiClient.key_hash,
                  ApiClient.scopes, ApiClient.revoked_at)
        .where(ApiClient.key_hash == digest)
    ).one_or_none()
    # The lookup is by hash already; compare_digest keeps the final check constant-time.
    if row is None or not hmac.compare_digest(row.key_hash, digest):
        raise InvalidApiKey("unknown", "This API key is not known.")
    if row.revoked_at is not None:
        raise InvalidApiKey("revoked", "This API key has been revoked.")
    client = AuthenticatedClient(id=row.id, name=row.name, key_prefix=row.key_prefix,
                                 scopes=frozenset(row.scopes or ()))
    if ttl > 0:
        _cache.put(digest, client)
    return client


def use_is_due(client: AuthenticatedClient) -> bool:
    """True when :func:`record_use` should run for this request (at most once a minute)."""
    return _cache.touch_due(client.id)


def record_use(client: AuthenticatedClient, *, now: dt.datetime | None = None) -> None:
    """Set the client's last-used time (cheap: one conditional UPDATE; flushes nothing else)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    cutoff = now - dt.timedelta(seconds=LAST_USED_EVERY)
    table = ApiClient.__table__
    db.session.execute(
        sa.update(table)
        .where(table.c.id == client.id,
               sa.or_(table.c.last_used_at.is_(None), table.c.last_used_at < cutoff))
        .values(last_used_at=now)
    )


# --------------------------------------------------- customers by external ref


def _clean_external_ref(external_ref: Any) -> str:
    if (not isinstance(external_ref, str) or not external_ref
            or len(external_ref) > MAX_EXTERNAL_REF or not external_ref.isprintable()):
        raise ValidationFailed({"external_ref": [
            f"Use 1 to {MAX_EXTERNAL_REF} printable characters: your own id for the customer."]})
    return external_ref


def customer_by_external_ref(client: AuthenticatedClient, external_ref: str) -> Customer | None:
    """The customer this client knows as ``external_ref``, or None."""
    customer_id = db.session.scalar(
        sa.select(ExternalRef.customer_id)
        .where(ExternalRef.client_id == client.id, ExternalRef.external_ref == external_ref))
    return get_customer(customer_id) if customer_id is not None else None


class EmailInUse(Conflict):
    """Another customer already has this email address: a conflict with stored data.

    The customers service reports it as invalid input (right for a form);
    to an integrating system it is a 409, like any clash with existing state.
    """

    def __init__(self) -> None:
        self.errors = {"email": ["Another customer already uses this email address."]}
        super().__init__("Another customer already uses this email address.")


def _ensure_email_free(details: Mapping[str, Any], *, exclude: uuid.UUID | None) -> None:
    email = details.get("email")
    if isinstance(email, str) and email:
        other = find_by_email(email)
        if other is not None and other.id != exclude:
            raise EmailInUse()


def upsert_customer(
    client: AuthenticatedClient, details: Mapping[str, Any], *, external_ref: str | None,
) -> tuple[Customer, bool]:
    """Create a customer, or update the one this client knows as ``external_ref``.

    Returns the customer and True if it was created. Without an
    ``external_ref`` this always creates. An update is a rectification
    (GDPR Art. 16) of the fields sent, audited by the customers service.
    Raises :class:`EmailInUse` when another customer has the address.
    """
    actor = client.actor
    ref = _clean_external_ref(external_ref) if external_ref is not None else None
    existing = customer_by_external_ref(client, ref) if ref is not None else None
    _ensure_email_free(details, exclude=existing.id if existing is not None else None)
    if existing is not None:
        rectify_customer(existing, details, actor=actor)
        return existing, False
    customer = create_customer(details, actor=actor)
    if ref is not None:
        db.session.add(ExternalRef(client_id=client.id, external_ref=ref, customer_id=customer.id))
        db.session.flush()
    return customer, True


def correct_customer(
    client: AuthenticatedClient, customer: Customer, changes: Mapping[str, Any],
) -> list[str]:
    """Rectify some of a customer's details for a client (GDPR Art. 16); returns changed fields.

    Raises :class:`EmailInUse` when another customer has the new address.
    """
    _ensure_email_free(changes, exclude=customer.id)
    return rectify_customer(customer, changes, actor=client.actor)


def external_ref_of(client: AuthenticatedClient, customer: Customer) -> str | None:
    """This client's reference for ``customer``, if it gave one."""
    return db.session.scalar(
        sa.select(ExternalRef.external_ref)
        .where(ExternalRef.client_id == client.id, ExternalRef.customer_id == customer.id))


# ------------------------------------------------------------- idempotency


class IdempotencyKeyReused(Conflict):
    """The same Idempotency-Key arrived with a different request."""

    problem = "idempotency-key-reused"

    def __init__(self) -> None:
        super().__init__("This Idempotency-Key was already used with a different request; "
                         "use a new key for a new request.")


@dataclass(frozen=True)
class StoredResponse:
    """The first answer to an idempotent request, to be replayed as it was."""

    status_code: int
    body: str
    location: str | None


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    """A keyed hash identifying a request: method, path and (canonical JSON) body.

    Keyed, so the stored hash cannot be tested against guessed bodies (which
    hold personal data); JSON is canonicalised, so key order and whitespace
    do not make a retry look like a different request.
    """
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = body
    secret = current_app.extensions["consentmgr"].settings.secret_key.encode("utf-8")
    key = hashlib.sha256(b"consentmgr idempotency\0" + secret).digest()
    message = method.upper().encode() + b"\n" + path.encode("utf-8") + b"\n" + canonical
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)


def _find_record(client_id: uuid.UUID, key: str) -> IdempotencyRecord | None:
    return db.session.scalar(sa.select(IdempotencyRecord).where(
        IdempotencyRecord.client_id == client_id, IdempotencyRecord.key == key))


def _replay_or_refuse(record: IdempotencyRecord, request_hash: str) -> StoredResponse:
    if not hmac.compare_digest(record.request_hash, request_hash):
        raise IdempotencyKeyReused()
    return StoredResponse(record.status_code, record.response_body, record.location)


def claim_idempotency_key(
    client: AuthenticatedClient, key: str, request_hash: str, *, now: dt.datetime | None = None,
) -> StoredResponse | IdempotencyRecord:
    """Claim ``key`` for this request, or return the stored first answer to replay.

    Returns the new (pending) record when the key is fresh: fill it with
    :func:`complete_idempotency_key` in the same transaction as the change.
    Raises :class:`IdempotencyKeyReused` when the key came with another
    request. Call it first in the request: when a concurrent request with
    the same key commits first, the session is rolled back and that
    request's answer is returned. Records older than 24 hours are ignored.
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    existing = _find_record(client.id, key)
    if existing is not None:
        if _aware(existing.created_at) > now - IDEMPOTENCY_TTL:
            return _replay_or_refuse(existing, request_hash)
        db.session.execute(sa.delete(IdempotencyRecord).where(IdempotencyRecord.id == existing.id))
    record = IdempotencyRecord(client_id=client.id, key=key, request_hash=request_hash,
                               status_code=0, response_body="", created_at=now)
    db.session.add(record)
    try:
        # On PostgreSQL this waits for a concurrent holder of the key to finish.
        db.session.flush()
    except sa.exc.IntegrityError:
        db.session.rollback()
        winner = _find_record(client.id, key)
        if winner is None:  # pragma: no cover - the winner rolled back after all
            raise Conflict("A request with this Idempotency-Key is in progress; retry.") from None
        return _replay_or_refuse(winner, request_hash)
    return record


def complete_idempotency_key(record: IdempotencyRecord, status_code: int, body: str,
                             location: str | None) -> None:
    """Store the answer for replays (the body must hold no personal data)."""
    record.status_code = status_code
    record.response_body = body
    record.location = location
    db.session.flush()


def purge_idempotency_keys(*, now: dt.datetime | None = None) -> int:
    """Delete records older than 24 hours; returns how many."""
    now = now or dt.datetime.now(dt.timezone.utc)
    result = db.session.execute(sa.delete(IdempotencyRecord).where(
        IdempotencyRecord.created_at <= now - IDEMPOTENCY_TTL))
    return result.rowcount or 0
