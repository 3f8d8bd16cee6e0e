"""Reading a long chain fast on PostgreSQL, for :func:`consentmgr.audit.verify.verify_chain`.

Verifying ten million entries is bound by per-entry work in Python. Read as
SQLAlchemy rows, each entry costs a row object, a mapping, a datetime, a
UUID and a sorted ``json.dumps``: ~25 µs, 40,000 entries/s. Here:

- the entries come as ``COPY (SELECT ...) TO STDOUT`` text rows, which the
  server streams while Python works (no fetch round trips, no per-column
  conversion), with the time and subject already written as the canonical
  encoding writes them;
- :meth:`ChainVerifier.feed_copy_rows` builds each entry's canonical
  encoding by joining those bytes (the ``details``/``fields`` JSON is
  canonicalised once per distinct stored text) and hashes it; an entry that
  does not match is checked again with the reference encoder, so this path
  can only save time, never pass a changed entry;
- a chain of at least :data:`PARALLEL_FROM` entries is read in two halves,
  one in a second process, each by its own connection on one exported
  snapshot, so both cores hash (benchmarks/verify_speed.py measures it).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import psycopg
from psycopg import sql
from sqlalchemy.orm import Session

from consentmgr.audit.chain import COPY_COLUMNS, ChainVerifier, entry_hash
from consentmgr.audit.models import AuditEntry

#: Chains at least this long are read in two halves, one in a second process.
PARALLEL_FROM = 400_000

_ENTRIES = AuditEntry.__table__
_COLUMNS = {
    "occurred_at": """to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')""",
    "subject_id": "subject_id::text",
    "details": "details::text",
    "fields": "fields::text",
}
_SELECT = ", ".join(_COLUMNS.get(name, name) for name in COPY_COLUMNS)
_RECHECK = "SELECT * FROM audit_entries WHERE sequence = %s"


def supported(session: Session) -> bool:
    """True where this scan runs (PostgreSQL through psycopg)."""
    bind = session.get_bind(clause=_ENTRIES)
    return bind.dialect.name == "postgresql" and bind.dialect.driver == "psycopg"


def _copy_statement(after: int, up_to: int | None) -> str:
    # Only integers are interpolated.
    upper = "" if up_to is None else f" AND sequence <= {int(up_to)}"
    return (f"COPY (SELECT {_SELECT} FROM audit_entries "  # nosec B608
            f"WHERE sequence > {int(after)}{upper} ORDER BY sequence) TO STDOUT")


class _Snapshot:
    """A connection reading the exported snapshot, and a second one for rechecks."""

    def __init__(self, conninfo: str, snapshot: str) -> None:
        self.conninfo, self.snapshot = conninfo, snapshot
        self.connection = self._open()
        self._recheck: psycopg.Connection | None = None
        self.count = 0

    def _open(self) -> psycopg.Connection:
        connection = psycopg.connect(self.conninfo)
        connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        connection.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(
            sql.Literal(self.snapshot)))
        return connection

    def rows(self, after: int, up_to: int | None) -> Iterator[bytes]:
        """The entries after ``after`` (up to ``up_to``), as COPY rows without the newline.

        Counts them in :attr:`count` (the verifier may stop early).
        """
        self.count = 0
        with self.connection.cursor().copy(_copy_statement(after, up_to)) as copy:
            for data in copy:  # one row per message
                self.count += 1
                yield bytes(data[:-1])

    def recheck(self, sequence: int) -> bool:
        """Entry ``sequence`` hashes to its stored hash by the reference encoder."""
        if self._recheck is None:  # the scan's connection is busy with its COPY
            self._recheck = self._open()
        with self._recheck.cursor(row_factory=psycopg.rows.dict_row) as cursor:
            row = cursor.execute(_RECHECK, (sequence,)).fetchone()
        return row is not None and entry_hash(row) == row["hash"]

    def head(self) -> tuple[int, str] | None:
        """The chain head row, as of the snapshot."""
        found = self.connection.execute("SELECT sequence, hash FROM audit_head").fetchone()
        return (int(found[0]), found[1]) if found else None

    def close(self) -> None:
        for connection in (self.connection, self._recheck):
            if connection is not None:
                connection.close()


@dataclass
class HalfResult:
    """What the second process found in its half: its first entry, then the rest."""

    first: tuple[int, str | None, str, bool] | None = None  # sequence, prev, hash, intact
    verifier: ChainVerifier | None = None
    rows: int = 0
    remembered: dict[int, str] = field(default_factory=dict)


def verify_second_half(conninfo: str, snapshot: str, after: int,
                       remember: Iterable[int]) -> HalfResult:
    """Check the entries after ``after`` in a second process (see :func:`scan_chain`)."""
    reader = _Snapshot(conninfo, snapshot)
    result = HalfResult()
    rows = reader.rows(after, None)
    try:
        first = next(rows, None)
        if first is None:
            return result
        # The first entry is judged by the caller, which knows the entry before it.
        probe = ChainVerifier(remember)
        number = int(first.split(b"\t", 1)[0])
        probe.last_sequence = number - 1
        probe.last_hash = _field(first, 2) or ""
        probe.feed_copy_rows([first], reader.recheck)
        intact = probe.changed is None  # its link is the caller's to judge
        result.first = (number, _field(first, 2), _field(first, 1) or "", intact)
        verifier = ChainVerifier(remember)
        verifier.last_sequence, verifier.last_hash = number, result.first[2]
        verifier.feed_copy_rows(rows, reader.recheck)
        result.rows = reader.count
        result.verifier = verifier
        result.remembered = dict(probe.hashes)
        return result
    finally:
        _close(rows)
        reader.close()


def _close(rows: Iterator[bytes]) -> None:
    """End a COPY read early (the verifier stopped at a bad entry)."""
    try:
        rows.close()
    except psycopg.Error:  # the server is told to stop; the connection is closed next
        pass


def _field(row: bytes, index: int) -> str | None:
    value = row.split(b"\t")[index]
    return None if value == b"\\N" else value.decode()


def scan_chain(session: Session, verifier: ChainVerifier) -> tuple[tuple[int, str] | None, int]:
    """Feed every sequenced entry to ``verifier``; the head as of the same snapshot, and how many.

    The session's transaction exports its snapshot; every connection here
    reads that snapshot, so entries and head agree however they are split.
    """
    connection = session.connection(bind_arguments={"clause": _ENTRIES})
    snapshot = connection.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
    conninfo = connection.engine.url.set(drivername="postgresql").render_as_string(
        hide_password=False)
    reader = _Snapshot(conninfo, snapshot)
    head = reader.head()
    middle = head[0] // 2 if head is not None and head[0] >= PARALLEL_FROM else None
    rows = reader.rows(0, middle)
    try:
        if middle is None:
            verifier.feed_copy_rows(rows, reader.recheck)
            return head, reader.count
        context = multiprocessing.get_context("spawn")  # no copy of this process's connections
        with ProcessPoolExecutor(1, mp_context=context) as pool:
            second = pool.submit(verify_second_half, conninfo, snapshot, middle,
                                 sorted(verifier.remembered))
            verifier.feed_copy_rows(rows, reader.recheck)
            half = second.result()
        _join(verifier, half)
        return head, reader.count + half.rows
    finally:
        _close(rows)
        reader.close()


def _join(verifier: ChainVerifier, half: HalfResult) -> None:
    """Continue ``verifier`` (the first half) with what the second process found."""
    if verifier.failure is not None or half.first is None:
        return
    number, prev_hash, stored, intact = half.first
    if not verifier._check(number, prev_hash, stored, lambda: intact):
        return
    verifier.hashes.update(half.remembered)
    rest = half.verifier
    verifier.checked += rest.checked
    verifier.hashes.update(rest.hashes)
    verifier.last_sequence, verifier.last_hash = rest.last_sequence, rest.last_hash
    if rest.failure is not None:
        verifier.failure = rest.failure
