"""What one application instance holds for its services: settings, derived keys, caches.

``create_app`` builds one :class:`Runtime` from the settings and installs it
(:func:`install`); this module is the only place that reads it back off the
Flask app. Two ways reach it, and nothing else should:

* **Boundaries** (views, API operations, CLI commands) call :func:`runtime`
  and pass what a service needs into it as arguments: a link builder, a
  signing key, the SMTP settings.
* **Services** get it from the session they already work in
  (:func:`of_session`): every session is opened for one app, and takes that
  app's runtime along (see ``consentmgr.extensions.Session``). This is for
  what the data layer itself needs on every row — the master key ring, the
  blind indexers, the shared caches — the way the data-key cache of a unit
  of work already lives in ``session.info``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Protocol

from cachetools import TTLCache
from flask import Flask, current_app
from sqlalchemy.orm import Session

from consentmgr.config import Settings
from consentmgr.crypto import BlindIndexer, KeyRing

EXTENSION = "consentmgr"
_SESSION_KEY = "consentmgr.runtime"

# One HKDF label per blind index: no two uses share a MAC key.
INDEX_LABELS = (
    "email",  # customers' email addresses
    "staff-email",  # staff accounts' email addresses
    "audit-client-address",  # client addresses in audit entries
    "consent-evidence",  # client address and user agent in consent evidence
    "portal-sign-in-rate-limit",  # per-address sign-in counters
    "portal-email-change-rate-limit",  # per-customer email-change counters
    "external-ref",  # API clients' own references (CRM ids) for customers
    "idempotency-key",  # API clients' Idempotency-Key values
)


class SharedCache:
    """A thread-safe TTL cache (``cachetools.TTLCache``) for one app's processes' threads.

    A ``ttl`` of 0 turns it off: nothing is kept.
    """

    def __init__(self, *, maxsize: int, ttl: float) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._data: TTLCache = TTLCache(maxsize=maxsize, ttl=ttl or 1)

    def get(self, key: Hashable, default: Any = None) -> Any:
        """The live value under ``key``, or ``default``."""
        if not self.ttl:
            return default
        with self._lock:
            return self._data.get(key, default)

    def put(self, key: Hashable, value: Any) -> None:
        """Keep ``value`` under ``key`` for ``ttl`` seconds."""
        if self.ttl:
            with self._lock:
                self._data[key] = value

    def get_or_build(self, key: Hashable, build: Callable[[], Any]) -> Any:
        """The cached value, or ``build()`` stored under ``key`` (built outside the lock)."""
        missing = object()
        value = self.get(key, missing)
        if value is missing:
            value = build()
            self.put(key, value)
        return value

    def pop(self, key: Hashable) -> None:
        """Forget ``key``."""
        with self._lock:
            self._data.pop(key, None)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._data.clear()


class Links(Protocol):
    """Absolute URLs of the pages that mails and receipts point to.

    Services need these links but must not know the web's paths: the web
    layer provides them (``consentmgr.web.links``) when the app is assembled.
    """

    def portal_sign_in(self, token: str) -> str:
        """The page that redeems a portal sign-in token."""

    def portal_confirm_email_change(self, token: str) -> str:
        """The page that confirms a new email address from the link mailed to it."""

    def staff_set_password(self, token: str) -> str:
        """The page where a staff member sets a password with a one-time token."""

    def policy(self, version: str) -> str:
        """A published policy version."""

    def home(self) -> str:
        """The controller's public home page."""

    def policy_compare(self, old: str, new: str) -> str:
        """The comparison page of two published versions."""

    def unsubscribe(self, customer_id: Any, purpose: str, *, now: Any = None) -> Any:
        """The signed one-click unsubscribe link (and its mail headers) for a customer and purpose."""


@dataclass
class Runtime:
    """Per-application state: settings, the keys derived from them, shared caches, links."""

    settings: Settings
    indexers: dict[str, BlindIndexer]
    caches: dict[str, SharedCache] = field(default_factory=dict)
    links: Links | None = None

    @property
    def master_keys(self) -> KeyRing:
        """The key-encryption keys (first is current) that wrap every data key."""
        return self.settings.master_keys

    def indexer(self, label: str) -> BlindIndexer:
        """The blind indexer for ``label`` (one of :data:`INDEX_LABELS`)."""
        return self.indexers[label]

    def cache(self, name: str, *, maxsize: int = 1024, ttl: float = 30.0) -> SharedCache:
        """The cache called ``name``, created on first use with ``maxsize`` and ``ttl``."""
        found = self.caches.get(name)
        if found is None:
            found = self.caches.setdefault(name, SharedCache(maxsize=maxsize, ttl=ttl))
        return found


def build_runtime(settings: Settings) -> Runtime:
    """The runtime for ``settings``: every blind indexer derived once."""
    return Runtime(settings=settings,
                   indexers={label: BlindIndexer(settings.blind_index_keys, label)
                             for label in INDEX_LABELS})


def install(app: Flask, settings: Settings) -> Runtime:
    """Build the runtime for ``settings`` and attach it to ``app``."""
    state = app.extensions[EXTENSION] = build_runtime(settings)
    return state


def runtime(app: Flask | None = None) -> Runtime:
    """The runtime of ``app`` (default: the current app). For boundaries and the session."""
    return (app or current_app).extensions[EXTENSION]


def bind_session(session: Session, state: Runtime) -> None:
    """Open ``session`` for the app whose runtime is ``state``."""
    session.info[_SESSION_KEY] = state


def of_session(session: Session) -> Runtime:
    """The runtime of the app ``session`` was opened for (see the module doc)."""
    registry = getattr(session, "registry", None)
    if registry is not None and not registry.has():
        # The app's scoped session, not opened in this context yet: it would be
        # opened for the current app, so answer that without opening one (a
        # cached consent check needs no session at all).
        return runtime()
    state = session.info.get(_SESSION_KEY)
    if state is None:
        # A session built outside Flask-SQLAlchemy (a script's own): adopt the current app's.
        state = session.info[_SESSION_KEY] = runtime()
    return state
