"""Who is calling: an API key checked against its stored digest, and the client cache.

Authentication is on the hot path of every API call, so it is one indexed
lookup by key digest, and active clients are kept in the app's shared
cache (``api-clients``) for ``API_KEY_CACHE_SECONDS`` seconds (default
:data:`DEFAULT_CACHE_SECONDS`). The trade-off: a key revoked through
another process (the CLI, another gunicorn worker or host) keeps working
here for at most that long; a revocation in this process takes effect at
once (:func:`forget_client`). Unknown and revoked keys are never cached,
so a new key works immediately.
"""

from __future__ import annotations

import datetime as dt
import hmac
import uuid
from dataclasses import dataclass

import sqlalchemy as sa

from consentmgr.actors import Actor
from consentmgr.apiclients.models import ApiClient
from consentmgr.errors import DomainError
from consentmgr.extensions import db
from consentmgr.runtime import Runtime, SharedCache, of_session
from consentmgr.sql import utcnow
from consentmgr.tokens import token_digest

KEY_MARKER = "cmk_"  # makes a leaked key recognisable to secret scanners
MAX_KEY_LENGTH = 128
DEFAULT_CACHE_SECONDS = 5.0
LAST_USED_EVERY = 60.0  # seconds between last-used updates per client and process
CACHE_SETTING = "API_KEY_CACHE_SECONDS"
_CLIENTS = "api-clients"  # active clients by key digest
_USES = "api-client-uses"  # clients whose use this process recorded within LAST_USED_EVERY


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


def hash_key(key: str) -> str:
    """The stored form of a key: its hex SHA-256 (see :mod:`consentmgr.tokens`)."""
    return token_digest(key)


def _state(state: Runtime | None) -> Runtime:
    return state if state is not None else of_session(db.session)


def _client_cache(state: Runtime, ttl: float) -> SharedCache:
    # The first use fixes the lifetime; the setting does not change while the app runs.
    return state.cache(_CLIENTS, ttl=ttl)


def _uses(state: Runtime) -> SharedCache:
    return state.cache(_USES, ttl=LAST_USED_EVERY)


def configured_cache_seconds(state: Runtime | None = None) -> float:
    """``API_KEY_CACHE_SECONDS`` from the app's settings, or the default."""
    return float(_state(state).settings.tuning.get(CACHE_SETTING, DEFAULT_CACHE_SECONDS))


def authenticate(key: str | None, *, cache_seconds: float | None = None,
                 state: Runtime | None = None) -> AuthenticatedClient:
    """The active client holding ``key``; raises :class:`InvalidApiKey`.

    At most one indexed query (none while the client is cached).
    ``cache_seconds`` is how long an active client may be served from the
    cache (the boundary passes the app's ``API_KEY_CACHE_SECONDS``; by
    default the configured value); 0 turns the cache off. ``state`` is the
    app's runtime (default: the session's); a boundary that has it passes
    it, so that a cached client costs no database session at all.
    """
    if not key:
        raise InvalidApiKey("missing", "Send your API key as 'Authorization: Bearer <key>'.")
    if not key.startswith(KEY_MARKER) or len(key) > MAX_KEY_LENGTH:
        raise InvalidApiKey("malformed", "That is not an API key of this service.")
    digest = hash_key(key)
    state = _state(state)
    ttl = configured_cache_seconds(state) if cache_seconds is None else float(cache_seconds)
    cache = _client_cache(state, ttl) if ttl > 0 else None
    cached = cache.get(digest) if cache is not None else None
    if cached is not None:
        return cached
    row = db.session.execute(
        sa.select(ApiClient.id, ApiClient.name, ApiClient.key_prefix, ApiClient.key_hash,
                  ApiClient.scopes, ApiClient.revoked_at)
        .where(ApiClient.key_hash == digest)
    ).one_or_none()
    # The lookup is by digest already; compare_digest keeps the final check constant-time.
    if row is None or not hmac.compare_digest(row.key_hash, digest):
        raise InvalidApiKey("unknown", "This API key is not known.")
    if row.revoked_at is not None:
        raise InvalidApiKey("revoked", "This API key has been revoked.")
    client = AuthenticatedClient(id=row.id, name=row.name, key_prefix=row.key_prefix,
                                 scopes=frozenset(row.scopes or ()))
    if cache is not None:
        cache.put(digest, client)
    return client


def forget_client(key_hash: str, state: Runtime | None = None) -> None:
    """Drop one client from this app's cache (it was just revoked here)."""
    state = _state(state)
    cache = state.caches.get(_CLIENTS)
    if cache is not None:
        cache.pop(key_hash)


def forget_cached_clients(state: Runtime | None = None) -> None:
    """Empty the authentication cache and the last-use marks (tests; after bulk changes).

    ``state`` is the app's runtime (default: the one of the current session).
    """
    state = _state(state)
    for name in (_CLIENTS, _USES):
        cache = state.caches.get(name)
        if cache is not None:
            cache.clear()


def use_is_due(client: AuthenticatedClient, state: Runtime | None = None) -> bool:
    """True when :func:`record_use` should run for this request (once a minute per process)."""
    uses = _uses(_state(state))
    if uses.get(client.id) is not None:
        return False
    uses.put(client.id, True)
    return True


def use_is_recorded(client: AuthenticatedClient, state: Runtime | None = None) -> bool:
    """True while :func:`use_is_due` would say False: this process recorded the use lately.

    A look that changes nothing, for a caller that leaves the recording to another path.
    """
    return _uses(_state(state)).get(client.id) is not None


def record_use(client: AuthenticatedClient, *, now: dt.datetime | None = None) -> None:
    """Set the client's last-used time (cheap: one conditional UPDATE; flushes nothing else)."""
    now = now or utcnow()
    cutoff = now - dt.timedelta(seconds=LAST_USED_EVERY)
    table = ApiClient.__table__
    db.session.execute(
        sa.update(table)
        .where(table.c.id == client.id,
               sa.or_(table.c.last_used_at.is_(None), table.c.last_used_at < cutoff))
        .values(last_used_at=now)
    )
