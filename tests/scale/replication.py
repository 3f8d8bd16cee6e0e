"""A real PostgreSQL primary and streaming replica, started for the tests and always removed.

The shared server on 5432 accepts no replication connections (its
``pg_hba.conf`` has no ``replication`` line) and holds every engineer's
databases, so the tests start a pair of their own: ``initdb`` a primary on
a free port, ``pg_basebackup -R`` it into a standby on another, both under
one temporary directory owned by the ``postgres`` user (PostgreSQL refuses
to run as root). About three seconds; ``stop`` is safe to call twice.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

BINARIES = Path(os.environ.get("CONSENTMGR_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
DATABASE = "consentmgr"


class ReplicationUnavailable(RuntimeError):
    """No PostgreSQL binaries here, or no user to run them as."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ReplicaPair:
    """A running primary and its streaming replica (hot standby)."""

    root: Path
    primary_port: int
    replica_port: int

    @property
    def primary_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.primary_port}/{DATABASE}"

    @property
    def replica_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.replica_port}/{DATABASE}"

    def wait_for_replay(self, timeout: float = 30.0) -> None:
        """Return once the replica has replayed everything the primary has written so far."""
        # LSNs are the cluster's: ask the always-present ``postgres`` database.
        primary = sa.create_engine(self.primary_url.rsplit("/", 1)[0] + "/postgres")
        replica = sa.create_engine(self.replica_url.rsplit("/", 1)[0] + "/postgres")
        try:
            with primary.connect() as conn:
                target = conn.scalar(sa.text("SELECT pg_current_wal_insert_lsn()"))
            deadline = time.monotonic() + timeout
            with replica.connect() as conn:
                while not conn.scalar(sa.text("SELECT pg_last_wal_replay_lsn() >= :t"), {"t": target}):
                    if time.monotonic() > deadline:
                        raise TimeoutError("the replica did not catch up")
                    time.sleep(0.01)
        finally:
            primary.dispose()
            replica.dispose()

    def on_replica(self, sql: str) -> None:
        """Run ``sql`` on the replica (e.g. pausing replay)."""
        engine = sa.create_engine(self.replica_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(sa.text(sql))
        finally:
            engine.dispose()

    def stop(self) -> None:
        """Stop both servers (immediately: nothing here is worth a checkpoint) and remove them."""
        for name in ("replica", "primary"):
            if (self.root / name / "postmaster.pid").exists():
                _as_postgres(["pg_ctl", "-D", str(self.root / name), "-m", "immediate", "-w",
                              "stop"], check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def _as_postgres(command: list[str], *, check: bool = True) -> subprocess.CompletedProcess:
    argv = [str(BINARIES / command[0]), *command[1:]]
    if os.geteuid() == 0:
        argv = ["runuser", "-u", "postgres", "--", *argv]
    return subprocess.run(argv, check=check, capture_output=True, text=True, timeout=120)


def start_replica_pair() -> ReplicaPair:
    """Start a primary and a streaming replica of it; the caller must ``stop()`` them."""
    if not (BINARIES / "initdb").exists():
        raise ReplicationUnavailable(f"no PostgreSQL binaries in {BINARIES}")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        raise ReplicationUnavailable("running as root without runuser: PostgreSQL refuses root")
    root = Path(tempfile.mkdtemp(prefix="consentmgr-replica-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    pair = ReplicaPair(root, _free_port(), _free_port())
    try:
        primary, replica = root / "primary", root / "replica"
        _as_postgres(["initdb", "-D", str(primary), "-U", "postgres", "--auth=trust", "-N",
                      "-E", "UTF8", "--locale=C.UTF-8"])
        # A small, fast test server: no fsync, little memory; a socket in our own directory.
        options = ("-c fsync=off -c full_page_writes=off "
                   "-c shared_buffers=16MB -c max_connections=40 -c listen_addresses=127.0.0.1 "
                   f"-k {root}")
        _as_postgres(["pg_ctl", "-D", str(primary), "-l", str(root / "primary.log"), "-w",
                      "-o", f"-p {pair.primary_port} {options}", "start"])
        _as_postgres(["pg_basebackup", "-h", "127.0.0.1", "-p", str(pair.primary_port),
                      "-U", "postgres", "-D", str(replica), "-R", "-X", "stream", "-c", "fast"])
        _as_postgres(["pg_ctl", "-D", str(replica), "-l", str(root / "replica.log"), "-w",
                      "-o", f"-p {pair.replica_port} {options}", "start"])
        engine = sa.create_engine(pair.primary_url.rsplit("/", 1)[0] + "/postgres",
                                  isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(sa.text(f"CREATE DATABASE {DATABASE}"))
        finally:
            engine.dispose()
        pair.wait_for_replay()
        return pair
    except BaseException:
        pair.stop()
        raise
