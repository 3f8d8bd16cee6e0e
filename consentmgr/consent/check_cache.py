"""A per-process cache of the consent check's rows, kept current by PostgreSQL LISTEN/NOTIFY.

The check (``checks.check_consent``) costs one round trip to PostgreSQL,
about half of what a request costs here. This cache answers repeated checks
from memory instead, and is only allowed to because it can never serve an
answer older than the last change it was told about:

* **Every change is announced.** Triggers (migration ``0014_consent_notify``)
  on ``consent_states`` and on ``customers.status`` send
  ``NOTIFY consentmgr_consent_check, '<customer id>'`` (``'*'`` for a
  truncate or a statement touching many customers). PostgreSQL delivers it
  after the commit, to every listening process.
* **A listener thread per process** holds its own autocommit connection
  with ``LISTEN`` and evicts the customer's entries. It is started lazily by
  the first check in each process, so under gunicorn every worker starts its
  own after the fork (:func:`os.register_at_fork` drops what a child
  inherited).
* **No listener, no cache.** The cache serves nothing until the listener is
  listening *and* has found the triggers installed; when its connection
  fails, or it has not proven itself alive for :data:`MAX_SILENCE` seconds
  (a hung network delivers nothing and reports nothing), every entry is
  dropped and nothing is served until it listens again. A notification
  missed while disconnected can therefore never leave a stale "allowed".
* **Fills cannot race evictions.** A miss takes a ticket (the cache epoch and
  the generation of the customer's stripe) *before* it reads the database; it
  may store what it read only if no eviction touched that stripe, and the
  cache was not dropped, in between. A read that began before a change was
  announced can only have seen the old row, so it is thrown away.
* **Read your own writes.** A session that changed a customer's consent or
  status evicts that customer in this process right after its commit, so a
  client that writes and then checks through the same process never waits
  for the notification (other processes do: that is the staleness bound,
  measured in ``tests/scale/test_check_cache_load.py``).

What is cached is the database row, not the answer: the rules (``decide``)
run on every check with the catalogue in effect that day, so renewal after a
material change, a newly published policy and the date are applied exactly
as without the cache.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
import weakref
from collections import OrderedDict
from typing import Any, Hashable

import psycopg
import sqlalchemy as sa
from sqlalchemy.orm import Session

from consentmgr.consent.models import ConsentEvent
from consentmgr.customers.models import Customer
from consentmgr.extensions import Session as AppSession

log = logging.getLogger(__name__)

#: The NOTIFY channel the triggers of migration 0014 send on.
CHANNEL = "consentmgr_consent_check"
#: The payload that drops every entry (a truncate, a bulk change).
EVERYTHING = "*"
#: The triggers the cache relies on; if any is missing or disabled it stays off.
TRIGGERS = (
    "consent_states_notify_check_insert",
    "consent_states_notify_check_update",
    "consent_states_notify_check_delete",
    "consent_states_notify_check_truncate",
    "customers_notify_check_status",
    "customers_notify_check_delete",
    "customers_notify_check_truncate",
)
_TRIGGERS_IN_PLACE = (
    "SELECT count(*) FROM pg_trigger WHERE tgenabled <> 'D' AND tgname = ANY(%s)"
)

#: Seconds between the listener's health checks (one round trip each).
HEARTBEAT = 1.0
#: Serve nothing once the listener has not proven itself alive for this long.
MAX_SILENCE = 3.0
#: The longest wait between two attempts to (re)connect the listener.
MAX_BACKOFF = 5.0
#: Evictions are tracked per stripe of customers, so a change to one customer
#: does not throw away every other customer's read in flight.
STRIPES = 1024

DEFAULT_SIZE = 100_000

_MISS = object()


class CheckCache:
    """Consent-check rows by customer and purpose, for one database, in one process.

    ``get`` and ``fill`` are the hot path; the listener thread calls
    ``evict``, ``start_serving`` and ``stop_serving``. Thread-safe.
    """

    def __init__(self, connect_args: dict[str, Any] | None, *,
                 maxsize: int = DEFAULT_SIZE) -> None:
        # ``connect_args`` None: no listener is started; whoever owns the cache
        # drives it (``start_serving``, ``notified``...) by hand.
        self.maxsize = maxsize
        self._connect_args = connect_args
        self._lock = threading.Lock()
        self._entries: OrderedDict[uuid.UUID, dict[str, Any]] = OrderedDict()
        self._count = 0  # customer/purpose rows held
        self._epoch = 0  # bumped whenever everything is dropped
        self._stripes = [0] * STRIPES
        self._serving = False
        self._alive_at = 0.0
        self._pid = os.getpid()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.listener_pid: int | None = None  # the listener's backend pid (tests kill it)
        _LIVE.add(self)

    # ------------------------------------------------------------ hot path

    def get(self, customer_id: uuid.UUID, purpose: str) -> tuple[Any, Hashable | None]:
        """The cached row (``MISS`` if none) and a ticket for :meth:`fill` (None: do not fill)."""
        if self._thread is None and self._connect_args is not None or self._pid != os.getpid():
            self._start()
        with self._lock:
            if not self._serving or time.monotonic() - self._alive_at > MAX_SILENCE:
                return _MISS, None
            entry = self._entries.get(customer_id)
            if entry is not None:
                row = entry.get(purpose, _MISS)
                if row is not _MISS:
                    self._entries.move_to_end(customer_id)
                    return row, None
            return _MISS, (self._epoch, self._stripes[hash(customer_id) % STRIPES])

    def fill(self, customer_id: uuid.UUID, purpose: str, row: Any, ticket: Hashable | None) -> None:
        """Keep ``row`` if nothing was evicted for this customer since ``ticket`` was taken."""
        if ticket is None:
            return
        with self._lock:
            if (not self._serving
                    or ticket != (self._epoch, self._stripes[hash(customer_id) % STRIPES])):
                return
            entry = self._entries.get(customer_id)
            if entry is None:
                entry = self._entries[customer_id] = {}
            else:
                self._entries.move_to_end(customer_id)
            if purpose not in entry:
                self._count += 1
            entry[purpose] = row
            while self._count > self.maxsize and self._entries:
                _, dropped = self._entries.popitem(last=False)
                self._count -= len(dropped)

    # ---------------------------------------------------------- evictions

    def evict(self, customer_ids: Any) -> None:
        """Forget these customers (and spoil every fill in flight for them)."""
        with self._lock:
            for customer_id in customer_ids:
                self._stripes[hash(customer_id) % STRIPES] += 1
                dropped = self._entries.pop(customer_id, None)
                if dropped is not None:
                    self._count -= len(dropped)

    def clear(self) -> None:
        """Forget everything (and spoil every fill in flight)."""
        with self._lock:
            self._drop_all()

    def _drop_all(self) -> None:
        self._epoch += 1
        self._entries.clear()
        self._count = 0

    def notified(self, payload: str) -> None:
        """Act on one notification from the triggers."""
        if payload == EVERYTHING:
            self.clear()
            return
        try:
            customer_id = uuid.UUID(payload)
        except ValueError:
            # Not ours to understand: dropping everything is always safe.
            self.clear()
            return
        self.evict((customer_id,))

    def start_serving(self) -> None:
        """The listener is listening (and the triggers are in place): start from empty."""
        with self._lock:
            self._drop_all()
            self._alive_at = time.monotonic()
            self._serving = True

    def stop_serving(self) -> None:
        """The listener lost its connection: drop everything and serve nothing."""
        with self._lock:
            self._serving = False
            self._drop_all()

    def alive(self) -> None:
        """The listener has just heard from the server."""
        self._alive_at = time.monotonic()

    @property
    def serving(self) -> bool:
        """True while answers may come from the cache."""
        return self._serving and time.monotonic() - self._alive_at <= MAX_SILENCE

    def __len__(self) -> int:
        return self._count

    # ------------------------------------------------------------ listener

    def _start(self) -> None:
        with self._lock:
            if self._pid != os.getpid():
                self._after_fork()
            if self._thread is not None or self._connect_args is None:
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._listen, name="consent-check-listener",
                                            daemon=True)
            self._thread.start()

    def _after_fork(self) -> None:
        # A forked child has no listener thread: what it inherited is unguarded.
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._thread = None
        self._serving = False
        self._stop = threading.Event()
        self._drop_all()

    def close(self) -> None:
        """Stop the listener (and wait for it); the cache serves nothing afterwards."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=HEARTBEAT + 5)
        self.stop_serving()

    def _listen(self) -> None:
        backoff = 0.05
        while not self._stop.is_set():
            try:
                with psycopg.connect(**self._connect_args, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listener_pid = conn.info.backend_pid
                    if self._triggers_in_place(conn):
                        self.start_serving()
                        backoff = 0.05
                    else:
                        log.warning("consent check cache off: its triggers are missing or "
                                    "disabled (run `flask db upgrade`)")
                    self._pump(conn)
            except (psycopg.Error, OSError) as exc:
                log.warning("consent check cache off: listener connection failed (%s)",
                            type(exc).__name__)
            finally:
                self.stop_serving()
            self._stop.wait(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    def _pump(self, conn: Any) -> None:
        """Evict on every notification; prove the connection alive every heartbeat."""
        while not self._stop.is_set():
            for notify in conn.notifies(timeout=HEARTBEAT):
                self.notified(notify.payload)
            in_place = self._triggers_in_place(conn)
            if in_place and not self._serving:
                self.start_serving()  # the migration ran while we listened
            elif not in_place:
                if self._serving:
                    log.warning("consent check cache off: its triggers were removed or disabled")
                self.stop_serving()
            self.alive()

    @staticmethod
    def _triggers_in_place(conn: Any) -> bool:
        found = conn.execute(_TRIGGERS_IN_PLACE, (list(TRIGGERS),)).fetchone()
        return found is not None and found[0] == len(TRIGGERS)


MISS = _MISS

# Every cache of this process, for local evictions and for forks.
_LIVE: weakref.WeakSet[CheckCache] = weakref.WeakSet()


def connect_args(engine: sa.Engine) -> dict[str, Any]:
    """psycopg connection arguments for the listener, from the app's engine.

    TCP keepalives let the kernel notice a dead server within seconds even
    when no packet is due; the heartbeat covers the rest.
    """
    _, kwargs = engine.dialect.create_connect_args(engine.url)
    kwargs = dict(kwargs)
    kwargs.setdefault("application_name", "consentmgr-check-cache")
    kwargs.setdefault("connect_timeout", 5)
    kwargs.setdefault("keepalives", 1)
    kwargs.setdefault("keepalives_idle", 5)
    kwargs.setdefault("keepalives_interval", 2)
    kwargs.setdefault("keepalives_count", 2)
    return kwargs


def evict_everywhere(customer_ids: Any) -> None:
    """Evict these customers from every cache of this process (after a local commit)."""
    ids = tuple(customer_ids)
    if ids:
        for cache in list(_LIVE):
            cache.evict(ids)


# --------------------------------------------------------- local commits

_CHANGED = "consentmgr.check-cache.changed"


def note_changed(session: Session, customer_id: uuid.UUID) -> None:
    """Evict ``customer_id`` in this process once ``session`` commits.

    For writes the flush hook below cannot see: rows inserted with a Core
    statement (the ledger's hot path) never pass through ``session.new``.
    """
    session.info.setdefault(_CHANGED, set()).add(customer_id)


def _changed_customers(session: Session, _flush_context: Any) -> None:
    """Note whose check answer this flush may change: new consent events, status changes."""
    ids = [obj.customer_id for obj in session.new if isinstance(obj, ConsentEvent)]
    ids += [obj.id for obj in session.dirty
            if isinstance(obj, Customer) and sa.inspect(obj).attrs.status.history.has_changes()]
    ids += [obj.id for obj in session.deleted if isinstance(obj, Customer)]
    if ids:
        session.info.setdefault(_CHANGED, set()).update(i for i in ids if i is not None)


def _evict_committed(session: Session) -> None:
    changed = session.info.pop(_CHANGED, None)
    if changed:
        evict_everywhere(changed)


def _forget_rolled_back(session: Session, _previous: Any = None) -> None:
    session.info.pop(_CHANGED, None)


sa.event.listen(AppSession, "after_flush", _changed_customers)
sa.event.listen(AppSession, "after_commit", _evict_committed)
sa.event.listen(AppSession, "after_rollback", _forget_rolled_back)


def _drop_inherited() -> None:
    for cache in list(_LIVE):
        cache._after_fork()


os.register_at_fork(after_in_child=_drop_inherited)
