"""Where a consent write's time goes (issue 13, item 3), in-process, one connection.

For each database (SQLite in a temporary directory; PostgreSQL too when
``--pg-url`` or ``CONSENTMGR_BENCH_DATABASE_URL`` is given -- that database
is WIPED) this

1. builds a fresh database: migrations, the shipped privacy policy, N
   customers (default 1,000, as in issue 13's table; direct service calls)
   and an API client with ``consent:read`` and ``consent:write``;
2. sends consent writes through the WSGI app with Flask's test client --
   ``POST /api/v1/customers/<id>/consents`` with ``{"purpose": ...,
   "action": "granted"|"withdrawn", "channel": "api"}``, each pair granted
   then withdrawn -- and, for comparison, consent checks (``GET
   .../consents/<purpose>``);
3. prints, per database:

   * time per write (median, p90) and per check, uninstrumented, in
     ``--rounds`` interleaved rounds, as shipped and with the commit's disk
     flush relaxed (SQLite ``PRAGMA synchronous=NORMAL``, PostgreSQL
     ``synchronous_commit=off``; an experiment on the benchmark's own
     connections, not a setting of the application);
   * statements per write by kind (SELECT/INSERT/UPDATE, plus driver
     BEGIN/COMMIT/ROLLBACK and pool pre-pings) and the round trips they make;
   * one write's statements, in order, with the phase that issued them;
   * the write's time by phase (parse/validate, auth, customer, ledger,
     audit record, hashing, signing, data-key unwrap, flush, SQL, commit,
     hooks, JSON, and the rest: Flask, Werkzeug, the test client), each
     phase's *own* time (nested phases subtracted), so the rows add up to
     the instrumented request; the instrumentation itself costs a little.

``--cprofile K`` adds cProfile's top K functions (cumulative) over one more
pass of writes. Only loopback addresses are contacted; nothing personal is
printed (SQL text only, never parameters).

Run::

    .venv/bin/python benchmarks/write_cost.py
    .venv/bin/python benchmarks/write_cost.py --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import io
import os
import pstats
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from functools import wraps
from pathlib import Path
from typing import Any, Callable, Iterator

import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from consentmgr import create_app  # noqa: E402
from consentmgr.actors import cli_actor  # noqa: E402
from consentmgr.apiclients.services import create_client  # noqa: E402
from consentmgr.audit import record as audit_record  # noqa: E402
from consentmgr.audit import checkpoints  # noqa: E402
from consentmgr.audit import services as audit_services  # noqa: E402
from consentmgr.consent import ledger, receipts  # noqa: E402
from consentmgr.consent import services as consent_services  # noqa: E402
from consentmgr.consent.catalogue import catalogue  # noqa: E402
from consentmgr.customers import services as customer_services  # noqa: E402
from consentmgr.extensions import Session, db  # noqa: E402
from consentmgr.keys import services as key_services  # noqa: E402
from consentmgr.policies.services import publish_policies  # noqa: E402
from consentmgr.web.api import auth as api_auth  # noqa: E402
from consentmgr.web.api import schemas as api_schemas  # noqa: E402
from consentmgr.web.request_log import access_log  # noqa: E402
from setup_common import bench_environment, on_each_database  # noqa: E402

ALL_REQUESTS = "100000000 per minute"  # the limiter stays on, but never trips
WARM_UP = 50


def seed(customers: int) -> tuple[str, list[tuple[str, str]]]:
    """Migrate and fill the database; returns the API key and (customer id, purpose) pairs."""
    actor = cli_actor("benchmark")
    upgrade()
    publish_policies(ROOT / "policies", actor=actor)
    db.session.commit()
    ids: list[str] = []
    for index in range(customers):
        customer = customer_services.create_customer(
            {"email": f"bench-{index}@example.org", "name": f"Bench Customer {index}"}, actor=actor)
        ids.append(str(customer.id))
        if index % 500 == 499:
            db.session.commit()
            db.session.expunge_all()
    _, key = create_client("write-cost", ["consent:read", "consent:write"], actor=actor)
    db.session.commit()
    purposes = sorted(p.slug for p in catalogue().purposes.values() if p.legal_basis == "consent")
    db.session.remove()
    return key, [(i, p) for i in ids for p in purposes]


# -------------------------------------------------------------- the requests


class Load:
    """Writes and checks through the test client, each pair granted then withdrawn."""

    def __init__(self, app: Flask, key: str, pairs: list[tuple[str, str]], *,
                 note: bool = False) -> None:
        self.client = app.test_client()
        self.headers = {"Authorization": f"Bearer {key}"}
        self.pairs = pairs
        # A note is stored encrypted under the customer's data key: it makes the
        # write load and unwrap that key (not personal data: the same text for all).
        self.extra = {"evidence": {"note": "Collected at the shop counter"}} if note else {}
        self.writes = 0
        self.checks = 0

    def write(self) -> None:
        """One consent write; the next pair's grant, or the withdrawal of the last grant."""
        number = self.writes
        self.writes += 1
        customer_id, purpose = self.pairs[(number // 2) % len(self.pairs)]
        action = "granted" if number % 2 == 0 else "withdrawn"
        response = self.client.post(f"/api/v1/customers/{customer_id}/consents",
                                    json={"purpose": purpose, "action": action, "channel": "api",
                                          **self.extra},
                                    headers=self.headers)
        if response.status_code != 201:
            raise SystemExit(f"write answered {response.status_code}: {response.get_data(as_text=True)}")

    def check(self) -> None:
        """One consent check."""
        customer_id, purpose = self.pairs[self.checks % len(self.pairs)]
        self.checks += 1
        response = self.client.get(f"/api/v1/customers/{customer_id}/consents/{purpose}",
                                   headers=self.headers)
        if response.status_code != 200:
            raise SystemExit(f"check answered {response.status_code}")


def timed(action: Callable[[], None], count: int) -> tuple[list[float], float]:
    """Seconds each of ``count`` calls took, and this process's CPU seconds for all of them.

    Starts from a freshly collected heap. The CPU time is the client side
    only (Python, the driver); PostgreSQL's own work is in its processes.
    """
    gc.collect()
    times = []
    clock = time.perf_counter
    cpu = time.process_time()
    for _ in range(count):
        started = clock()
        action()
        times.append(clock() - started)
    return times, time.process_time() - cpu


def p90(values: list[float]) -> float:
    """The 90th percentile."""
    return statistics.quantiles(values, n=10)[-1]


# ------------------------------------------------- relaxing the commit's flush


class CommitFlush:
    """Switches the benchmark's own connections between a durable and a relaxed commit.

    SQLite in WAL mode syncs the log at every commit with ``synchronous=FULL``
    (its default) and only at checkpoints with ``NORMAL``; PostgreSQL waits
    for the WAL flush at every commit unless ``synchronous_commit=off``. The
    pool is emptied at each switch, so every connection gets the setting.
    """

    def __init__(self, engines: list[sa.Engine]) -> None:
        self.engines = engines
        self.relaxed = False
        for engine in engines:
            sa.event.listen(engine, "connect", self._apply)

    def _apply(self, dbapi_connection: Any, _record: Any) -> None:
        if not self.relaxed:
            return
        cursor = dbapi_connection.cursor()
        try:
            if isinstance(dbapi_connection, sqlite3.Connection):
                cursor.execute("PRAGMA synchronous=NORMAL")
            else:
                cursor.execute("SET synchronous_commit TO off")
        finally:
            cursor.close()
        if not isinstance(dbapi_connection, sqlite3.Connection):
            dbapi_connection.commit()

    def set(self, relaxed: bool) -> None:
        """Durable (``False``, as shipped) or relaxed commits from now on."""
        self.relaxed = relaxed
        db.session.remove()
        for engine in self.engines:
            engine.dispose()

    def shipped_setting(self) -> str:
        """What the database does at commit as configured (for the report)."""
        engine = self.engines[0]
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
                sync = conn.exec_driver_sql("PRAGMA synchronous").scalar()
                names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
                return f"journal_mode={mode}, synchronous={names.get(sync, sync)}"
            sync = conn.exec_driver_sql("SHOW synchronous_commit").scalar()
            fsync = conn.exec_driver_sql("SHOW fsync").scalar()
            method = conn.exec_driver_sql("SHOW wal_sync_method").scalar()
            return f"synchronous_commit={sync}, fsync={fsync}, wal_sync_method={method}"


# -------------------------------------------------------------- the phases


class Phases:
    """Own time per phase: a nested phase's time is taken out of the one around it."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget everything measured so far."""
        self.stack: list[list[Any]] = []
        self.own: dict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()
        self.statements: dict[str, Counter[str]] = defaultdict(Counter)
        self.trace: list[tuple[str, str]] | None = None

    def enter(self, name: str) -> None:
        """Start timing ``name`` inside whatever phase is running."""
        self.stack.append([name, time.perf_counter(), 0.0])

    def leave(self) -> None:
        """Stop the innermost phase; its time leaves the enclosing phase's own time."""
        name, started, inner = self.stack.pop()
        elapsed = time.perf_counter() - started
        self.own[name] += elapsed - inner
        self.calls[name] += 1
        if self.stack:
            self.stack[-1][2] += elapsed

    def current(self) -> str:
        return self.stack[-1][0] if self.stack else "outside a request"

    def statement(self, kind: str, text: str) -> None:
        """Count a statement (or BEGIN/COMMIT/ping) for the phase that issued it."""
        self.statements[self.current()][kind] += 1
        if self.trace is not None:
            self.trace.append((self.current(), " ".join(text.split())))

    def wrap(self, name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        """``func`` timed as the phase ``name``."""
        @wraps(func)
        def timed_phase(*args: Any, **kwargs: Any) -> Any:
            self.enter(name)
            try:
                return func(*args, **kwargs)
            finally:
                self.leave()

        return timed_phase


def _kind(statement: str) -> str:
    word = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "?"
    return word if word in ("SELECT", "INSERT", "UPDATE", "DELETE") else "other"


def _opens_transaction(cursor: Any) -> bool:
    """True if psycopg will send its own BEGIN (one more round trip) before this statement."""
    info = getattr(cursor.connection, "info", None)
    status = getattr(info, "transaction_status", None)
    return (status is not None and status.name == "IDLE"
            and not getattr(cursor.connection, "autocommit", True))


def _in_transaction(dbapi_connection: Any) -> bool:
    """True if the connection has a transaction to end (psycopg sends nothing otherwise)."""
    dbapi_connection = getattr(dbapi_connection, "dbapi_connection", dbapi_connection)  # the pool's proxy
    if isinstance(dbapi_connection, sqlite3.Connection):
        return dbapi_connection.in_transaction
    status = getattr(getattr(dbapi_connection, "info", None), "transaction_status", None)
    return status is None or status.name != "IDLE"


@contextlib.contextmanager
def instrumented(app: Flask, engines: list[sa.Engine], phases: Phases) -> Iterator[None]:
    """Wrap the write's steps in :class:`Phases` timers; everything is restored afterwards."""
    patched: list[tuple[Any, str, Any, bool]] = []

    def patch(owner: Any, name: str, phase: str) -> None:
        original = getattr(owner, name)
        patched.append((owner, name, original, name in vars(owner)))
        setattr(owner, name, phases.wrap(phase, original))

    def patch_sql(dialect: sa.Dialect, name: str) -> None:
        original = getattr(dialect, name)

        @wraps(original)
        def execute(cursor: Any, statement: str, *args: Any, **kwargs: Any) -> Any:
            kind = _kind(statement)
            if _opens_transaction(cursor):
                phases.statement("BEGIN", "BEGIN (sent by psycopg before the statement)")
            phases.statement(kind, statement)
            phases.enter(f"SQL {kind} (driver)")
            try:
                return original(cursor, statement, *args, **kwargs)
            finally:
                phases.leave()

        patched.append((dialect, name, original, name in vars(dialect)))
        setattr(dialect, name, execute)

    def count_driver(dialect: sa.Dialect, name: str, kind: str, phase: str) -> None:
        original = getattr(dialect, name)

        @wraps(original)
        def call(dbapi_connection: Any, *args: Any, **kwargs: Any) -> Any:
            sent = kind != "ROLLBACK" or _in_transaction(dbapi_connection)
            phases.statement(kind if sent else "ROLLBACK (nothing to undo: not sent)", kind)
            phases.enter(phase)
            try:
                return original(dbapi_connection, *args, **kwargs)
            finally:
                phases.leave()

        patched.append((dialect, name, original, name in vars(dialect)))
        setattr(dialect, name, call)

    patch(api_schemas.ConsentRecordInputSchema, "load", "parse/validate (marshmallow load)")
    patch(api_schemas.ConsentEventSchema, "dump", "response (marshmallow dump)")
    patch(app.json, "loads", "JSON decode")
    patch(app.json, "dumps", "JSON encode")
    patch(api_auth, "authenticate", "API key check")
    patch(customer_services, "get_customer", "load customer")
    patch(consent_services, "record_choice", "ledger: record_choice (own code)")
    patch(ledger, "purpose_info", "ledger: purpose lookup (catalogue)")
    patch(ledger, "_shown_notice", "ledger: notice shown")
    patch(ledger, "_evidence_json", "ledger: evidence")
    patch(ledger, "_upsert_state", "ledger: state upsert (statement build)")
    patch(audit_services, "record", "audit record (own code)")
    patch(audit_record, "_validated", "audit: validate entry")
    patch(audit_record, "claim_inline", "audit: head claim, inline (SQLite; statement build)")
    patch(audit_record, "entry_hash", "audit: entry hash (SHA-256, canonical JSON)")
    patch(key_services, "unwrap_data_key", "data-key unwrap (AES key wrap)")
    patch(receipts, "jws_sign", "Ed25519 signing (receipt)")
    patch(checkpoints, "jws_sign", "Ed25519 signing (checkpoint)")
    patch(Session, "flush", "ORM flush (unit of work)")
    patch(Session, "commit", "session commit (own code)")
    for hooks, label in ((app.before_request_funcs, "before"), (app.after_request_funcs, "after"),
                         (app.teardown_request_funcs, "teardown")):
        for scope, funcs in hooks.items():
            for index, func in enumerate(funcs):
                patched.append((funcs, index, func, True))
                hook = getattr(func, "func", func)  # a functools.partial names its function
                funcs[index] = phases.wrap(f"{label}-request hook {hook.__name__}", func)
    dialects = {id(e.dialect): e.dialect for e in engines}.values()
    for dialect in dialects:
        for name in ("do_execute", "do_executemany", "do_execute_no_params"):
            patch_sql(dialect, name)
        count_driver(dialect, "do_commit", "COMMIT", "driver COMMIT (log sync)")
        count_driver(dialect, "do_rollback", "ROLLBACK", "driver ROLLBACK")
        count_driver(dialect, "do_ping", "ping", "pool pre-ping")
    try:
        yield
    finally:
        for owner, name, original, own in reversed(patched):
            if isinstance(owner, list):
                owner[name] = original
            elif own:
                setattr(owner, name, original)
            else:
                delattr(owner, name)


# -------------------------------------------------------------- measuring


def profile_writes(app: Flask, engines: list[sa.Engine], load: Load,
                   count: int) -> tuple[Phases, float]:
    """Instrumented writes: own time per phase and the statements each phase issued."""
    phases = Phases()
    with instrumented(app, engines, phases):
        load.write()  # the wrappers' own first calls
        phases.reset()
        phases.trace = []
        request = phases.wrap("request (Flask, Werkzeug, test client, rest)", load.write)
        request()
        trace, phases.trace = phases.trace, None
        gc.collect()
        started = time.perf_counter()
        for _ in range(count - 1):
            request()
        elapsed = time.perf_counter() - started
    phases.trace = trace
    return phases, elapsed * count / max(1, count - 1)


#: The phases grouped as the README's table shows them (first match wins).
GROUPS = (
    ("parse/validate (body checks, JSON, marshmallow)", ("parse/validate", "JSON decode",
                                                        "before-request hook _check_body")),
    ("auth and rate limit", ("API key check", "before-request hook enforce_rate_limit",
                             "before-request hook _check_request_limit",
                             "before-request hook csrf_protect")),
    ("customer load (ORM, without its SQL)", ("load customer",)),
    ("ledger (record_choice, catalogue, evidence, upsert build)", ("ledger",)),
    ("audit record (validate, head claim build, hash, head update)", ("audit",)),
    ("Ed25519 signing (receipts, checkpoints)", ("Ed25519",)),
    ("data-key unwrap", ("data-key",)),
    ("ORM flush (unit of work, without its SQL)", ("ORM flush",)),
    ("SQL statements at the driver (incl. psycopg's BEGIN)", ("SQL ",)),
    ("pool pre-ping", ("pool pre-ping",)),
    ("commit (session, driver COMMIT = log sync, reset)", ("session commit", "driver COMMIT",
                                                          "driver ROLLBACK")),
    ("response (marshmallow dump, JSON, after hooks)", ("response", "JSON encode",
                                                       "after-request hook")),
    ("Flask, Werkzeug, test client, other hooks", ("request", "before-request hook",
                                                   "teardown-request hook")),
)


def _group(phase: str) -> str:
    for label, prefixes in GROUPS:
        if phase.startswith(prefixes):
            return label
    return GROUPS[-1][0]


def report_phases(profiles: list[tuple[Phases, float]], count: int) -> None:
    """Print statements per write, one write's statements, and own time per phase.

    Times are the median over the rounds of each phase's time per write
    (each round's instrumented pass is ``profiles[i]``); counts and the
    statement list come from the first round (they do not change).
    """
    phases = profiles[0][0]
    total = statistics.median(t for _, t in profiles)
    names = {name for p, _ in profiles for name in p.own}
    own = {name: statistics.median(p.own.get(name, 0.0) for p, _ in profiles) for name in names}
    kinds: Counter[str] = Counter()
    for counter in phases.statements.values():
        kinds.update(counter)
    sql = {k: v / count for k, v in kinds.items()}
    statements = sum(sql.get(k, 0) for k in ("SELECT", "INSERT", "UPDATE", "DELETE", "other"))
    print(f"  statements per write: {statements:.1f} "
          f"(SELECT {sql.get('SELECT', 0):.1f}, INSERT {sql.get('INSERT', 0):.1f}, "
          f"UPDATE {sql.get('UPDATE', 0):.1f}, DELETE {sql.get('DELETE', 0):.1f}, "
          f"other {sql.get('other', 0):.1f})")
    trips = statements + sum(sql.get(k, 0) for k in ("BEGIN", "COMMIT", "ROLLBACK", "ping"))
    print(f"  plus per write: BEGIN {sql.get('BEGIN', 0):.1f} (psycopg's own), "
          f"COMMIT {sql.get('COMMIT', 0):.1f}, ROLLBACK {sql.get('ROLLBACK', 0):.1f}, "
          f"pool pre-ping {sql.get('ping', 0):.1f} -> {trips:.1f} calls to the database "
          f"(round trips on PostgreSQL; in-process calls on SQLite)")
    grouped: dict[str, float] = defaultdict(float)
    for name, seconds in own.items():
        grouped[_group(name)] += seconds
    print(f"  time by phase, µs per write (own time, median of {len(profiles)} instrumented "
          f"passes; {total / count * 1e6:.0f} µs per write instrumented):")
    for label, _ in GROUPS:
        seconds = grouped.get(label, 0.0)
        print(f"    {label:<62} {seconds / count * 1e6:7.0f} {seconds / total:6.1%}")
    print("  one write's statements, in order (phase: statement):")
    for phase, text in phases.trace or []:
        print(f"    {phase[:38]:<38} {text[:110]}")
    print("  in detail:")
    print(f"    {'phase':<52} {'µs':>7} {'share':>6} {'calls':>6}  statements issued")
    for name, seconds in sorted(own.items(), key=lambda item: -item[1]):
        issued = ", ".join(f"{k} {v / count:.2g}" for k, v in sorted(phases.statements.get(name, {}).items()))
        print(f"    {name[:52]:<52} {seconds / count * 1e6:7.0f} {seconds / total:6.1%} "
              f"{phases.calls[name] / count:6.1f}  {issued}")


def report_cprofile(load: Load, count: int, top: int, *, of: str = "write",
                    order: str = "cumulative") -> None:
    """cProfile's top functions by ``order`` over ``count`` writes (or checks)."""
    request = load.check if of == "check" else load.write
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(count):
        request()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(top)
    print(f"  cProfile, {count} {of}s, top {top} by {order} time:")
    print("\n".join("    " + line for line in out.getvalue().splitlines() if line.strip()))


def benchmark(name: str, database_url: str, args: argparse.Namespace) -> None:
    """Seed a fresh database, then time, count and break down consent writes."""
    with tempfile.TemporaryDirectory() as instance, open(os.devnull, "w") as devnull:
        app = create_app(bench_environment(database_url, instance, API_RATE_LIMIT=ALL_REQUESTS))
        with app.app_context():
            started = time.perf_counter()
            key, pairs = seed(args.customers)
            print(f"\n== {name} == seeded {args.customers} customers in "
                  f"{time.perf_counter() - started:.1f} s", flush=True)
            engines = list({id(e): e for e in db.engines.values()}.values())
            flush = CommitFlush(engines)
            print(f"  commit as configured: {flush.shipped_setting()}")
        load = Load(app, key, pairs, note=args.note)
        # The access log's lines (one per request) go to stderr: not to the terminal here.
        with contextlib.redirect_stderr(devnull):
            for _ in range(WARM_UP):
                load.write()
                load.check()
            runs: dict[str, list[float]] = defaultdict(list)
            cpu: dict[str, float] = defaultdict(float)
            profiles = []
            for _ in range(args.rounds):  # interleaved: load swings hit every variant alike
                for relaxed in (False, True):
                    with app.app_context():
                        flush.set(relaxed)
                    load.write()  # a connection with the setting
                    label = "write, relaxed commit" if relaxed else "write"
                    times, seconds = timed(load.write, args.writes)
                    runs[label] += times
                    cpu[label] += seconds
                    if not relaxed:
                        times, seconds = timed(load.check, args.writes)
                        runs["check"] += times
                        cpu["check"] += seconds
                        profiles.append(profile_writes(app, engines, load, args.writes))
            with app.app_context():
                flush.set(False)
            profile = io.StringIO()
            if args.cprofile:
                with contextlib.redirect_stdout(profile):
                    report_cprofile(load, args.writes, args.cprofile, of=args.cprofile_of,
                                    order=args.cprofile_order)
            for handler in access_log.handlers:
                handler.flush()
        print(f"  {args.rounds} rounds x {args.writes} requests each, in-process, one connection:")
        for label in ("write", "write, relaxed commit", "check"):
            values = runs[label]
            print(f"    {label:<22} p50 {statistics.median(values) * 1000:6.2f} ms   "
                  f"p90 {p90(values) * 1000:6.2f} ms   mean {statistics.fmean(values) * 1000:6.2f} ms"
                  f"   client CPU {cpu[label] / len(values) * 1000:5.2f} ms")
        write, check = statistics.median(runs["write"]), statistics.median(runs["check"])
        relaxed = statistics.median(runs["write, relaxed commit"])
        print(f"    write / check = {write / check:.1f}x; the commit's log sync is "
              f"~{(write - relaxed) * 1000:.2f} ms of the write's p50 ({(write - relaxed) / write:.0%})")
        report_phases(profiles, args.writes)
        if args.cprofile:
            print(profile.getvalue(), end="")
        with app.app_context():
            db.session.remove()
            for engine in engines:
                engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000)
    parser.add_argument("--writes", type=int, default=500, help="writes (and checks) per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--note", action="store_true",
                        help="send an evidence note (encrypted: loads the customer's data key)")
    parser.add_argument("--cprofile", type=int, default=0, metavar="K",
                        help="also print cProfile's top K functions over one pass of writes")
    parser.add_argument("--cprofile-of", choices=("write", "check"), default="write")
    parser.add_argument("--cprofile-order", choices=("cumulative", "tottime"), default="cumulative")
    parser.add_argument("--pg-url", default=os.environ.get("CONSENTMGR_BENCH_DATABASE_URL"),
                        help="also on this PostgreSQL database (it is WIPED)")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    on_each_database(benchmark, args)


if __name__ == "__main__":
    main()
