"""The one sequencer: which worker integrates audit entries, and its loop.

Every ``flask worker`` starts a :class:`SequencerLoop`; on PostgreSQL only
the one holding the session-level advisory lock :data:`LOCK_KEY` sequences.
The lock lives on a connection of its own, so it goes when its holder goes:
a worker killed with ``kill -9`` drops its connection, PostgreSQL releases
the lock, and the next worker to try (every poll, a fraction of
``AUDIT_SEQUENCE_DELAY_SECONDS``) takes over. Correctness does not rest on
the lock: each batch locks the chain head row (:mod:`.sequencer`), so even
two sequencers would only take turns. The lock keeps the others idle.

On SQLite entries are placed inline when written; the loop has nothing to
do and does not start.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import Flask

from consentmgr.audit.sequencer import (
    DEFAULT_BATCH,
    checkpoint_every,
    max_delay,
    sequence_pending,
)
from consentmgr.extensions import db
from consentmgr.runtime import runtime
from consentmgr.unit_of_work import unit_of_work

log = logging.getLogger(__name__)

#: ``pg_advisory_lock`` key of the sequencer role (ASCII "cm-audit", as a bigint).
LOCK_KEY = int.from_bytes(b"cm-audit", "big") & 0x7FFF_FFFF_FFFF_FFFF
#: The name the lock's connection shows in ``pg_stat_activity``.
APPLICATION_NAME = "consentmgr-sequencer"
_MIN_POLL = 0.02
_MAX_POLL = 0.2


def poll_interval(delay: dt.timedelta) -> float:
    """How often to look for entries: a fifth of the allowed delay, 20 to 200 ms."""
    return min(_MAX_POLL, max(_MIN_POLL, delay.total_seconds() / 5))


_HOLDERS = sa.text(
    "SELECT l.pid, a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
    "WHERE l.locktype = 'advisory' AND l.granted "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND ((l.classid::bigint << 32) | l.objid::bigint) = :key")


def sequencer_holders(connection: sa.Connection) -> list[tuple[int, str]]:
    """Server process id and worker name of each session holding the role (PostgreSQL).

    At most one, by the lock's nature; a list so that a check can say so.
    """
    rows = connection.execute(_HOLDERS, {"key": LOCK_KEY}).all()
    return [(row.pid, row.application_name.removeprefix(APPLICATION_NAME).strip())
            for row in rows]


@dataclass
class SequencerLoop:
    """Takes the sequencer role when free and integrates entries until stopped."""

    app: Flask
    name: str
    batch: int = DEFAULT_BATCH
    stopping: threading.Event = field(default_factory=threading.Event)
    leading: threading.Event = field(default_factory=threading.Event)
    sequenced: int = 0

    @property
    def needed(self) -> bool:
        """False on SQLite, where entries are placed as they are written."""
        with self.app.app_context():
            return db.engine.dialect.name == "postgresql"

    def start(self) -> threading.Thread | None:
        """Run :meth:`run` on a daemon thread (None where no sequencer is needed)."""
        if not self.needed:
            return None
        thread = threading.Thread(target=self.run, name="consentmgr-sequencer", daemon=True)
        thread.start()
        return thread

    def run(self) -> None:
        """Until :attr:`stopping`: hold or wait for the lock; sequence while holding it."""
        config = self.app.config
        interval = poll_interval(max_delay(config))
        while not self.stopping.is_set():
            try:
                with self.app.app_context():
                    self._lead(interval, checkpoint_every(config))
            except sa.exc.OperationalError as error:
                self._lost(f"database unavailable ({type(error).__name__})")
                self.stopping.wait(1.0)

    def _lead(self, interval: float, every: dt.timedelta) -> None:
        engine = db.engine
        key = runtime(self.app).settings.audit_signing_key
        with engine.connect() as lock:
            lock = lock.execution_options(isolation_level="AUTOCOMMIT")
            lock.execute(sa.text("SELECT set_config('application_name', :name, false)"),
                         {"name": f"{APPLICATION_NAME} {self.name}"[:63]})
            try:
                take = sa.select(sa.func.pg_try_advisory_lock(LOCK_KEY))
                while not self.stopping.is_set():
                    if not self.leading.is_set():
                        if not lock.execute(take).scalar():
                            self.stopping.wait(interval)
                            continue
                        self.leading.set()
                        log.info("audit sequencer: %s now sequences the audit trail", self.name)
                    # A full batch means a backlog: go on at once. Anything less
                    # waits the interval, so that under a steady stream of writes
                    # each pass places many entries instead of the few committed
                    # since the last one (a pass costs ~7 round trips whatever
                    # its size), and the delay stays within a fifth of the bound.
                    if self._pass(key, every) < self.batch:
                        self.stopping.wait(interval)
            finally:
                if self.leading.is_set():
                    self.leading.clear()
                    log.info("audit sequencer: %s stepped down", self.name)
                    try:
                        lock.execute(sa.select(sa.func.pg_advisory_unlock(LOCK_KEY)))
                    except sa.exc.DBAPIError:
                        pass  # the connection is gone, and the lock with it

    def _pass(self, key, every: dt.timedelta) -> int:
        """One batch in its own transaction; how many entries it placed."""
        with unit_of_work(db.session):
            batch = sequence_pending(db.session, limit=self.batch, signing_key=key,
                                     checkpoint_every=every)
        if batch is None:
            return 0
        self.sequenced += batch.count
        log.debug("audit sequencer: entries %d-%d", batch.first, batch.last)
        return batch.count

    def _lost(self, why: str) -> None:
        log.warning("audit sequencer: %s: %s; retrying", self.name, why)
