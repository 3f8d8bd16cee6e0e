"""A million customers: bulk seed PostgreSQL, then measure the hot paths at that size.

Seeding (``seed``) fills a PostgreSQL database, migrated to head by the app,
with N customers (default 1,000,000) and M consent events (default
10,000,000), the consent states they leave and one audit entry per event,
already placed in the hash chain, in bulk with COPY:

1. ``setup``: wipe the database, migrate, publish the shipped policies,
   create an API client and a staff account (the app's own services), let
   the sequencer place their audit entries;
2. ``customers``: built and encrypted by the app's own code -- the model's
   encrypted fields, a data key per customer created and wrapped by the
   unit of work's key cache, the email blind index -- in worker processes
   (encryption dominates), then COPYed with their keys, 2,000 per
   transaction;
3. ``events``: consent events, then the consent states (the last event per
   customer and purpose), in one process, while a second process writes
   the audit entries: the chain is computed with
   :func:`consentmgr.audit.chain.entry_hash` (the reference encoder, not the
   fast one ``verify`` uses, so verification cross-checks it) and the head
   row is set at the end; secondary indexes and constraints of the three
   tables are dropped first and rebuilt afterwards (``indexes``).

Events follow a fixed pattern (event ``i`` is customer ``i mod N``'s round
``i div N``; each round moves to the next consent purpose; a purpose's
first event grants, its next withdraws, ...), so every stage can be
restarted: customers resume by chunk, events and audit entries after the
highest ones stored. Receipts are not stored (they are signed when
downloaded), so nothing is signed here. Customers get no
``customer.created`` audit entry: the trail holds exactly one entry per
consent event plus the setup's own.

Measuring (``measure``) runs in-process with the Flask test client (no
HTTP server): the single consent check, a bulk check of 1,000 pairs, the
change feed at its start, middle and end, ``verify_chain`` in entries/s,
the portal pages for one signed-in customer (the same one each run; the
staff views of the run go to another customer, so the portal's access list
does not grow between runs) and the staff pages. Results are
saved as JSON by size; ``table`` prints them side by side with the ratio of
the largest to the smallest size.

Run::

    .venv/bin/python benchmarks/million.py seed --customers 10000 --events 100000
    .venv/bin/python benchmarks/million.py measure
    .venv/bin/python benchmarks/million.py seed            # 1,000,000 / 10,000,000
    .venv/bin/python benchmarks/million.py measure
    .venv/bin/python benchmarks/million.py table

The database (``--url``, or ``MILLION_DATABASE_URL``) is WIPED by ``seed``.
Keys and the accounts created are kept in ``--instance`` (a throw-away
directory) so that ``measure`` can run later against the same data.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import multiprocessing
import os
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from setup_common import bench_environment, reset_postgres

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/h3"
CUSTOMER_CHUNK = 2_000
EVENT_CHUNK = 50_000
STEP = dt.timedelta(seconds=2)  # between two consent events
BIG_TABLES = ("consent_events", "consent_states", "audit_entries")
ALL_REQUESTS = "100000000 per minute"

# ----------------------------------------------------------------- plumbing


def libpq_url(url: str) -> str:
    """The URL psycopg takes (SQLAlchemy's without the driver name)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def uid(kind: str, index: int) -> uuid.UUID:
    """A UUID4-shaped id that is a fixed function of (kind, index): stages find their rows again."""
    digest = hashlib.blake2b(f"{kind}{index}".encode(), digest_size=16, key=b"million").digest()
    return uuid.UUID(bytes=digest, version=4)


class Instance:
    """The throw-away directory that ties a seeded database to its keys and accounts."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.state_file = path / "state.json"

    def load(self) -> dict[str, Any]:
        return json.loads(self.state_file.read_text()) if self.state_file.exists() else {}

    def save(self, state: dict[str, Any]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        temporary = self.state_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(state, indent=1, default=str))
        os.chmod(temporary, 0o600)  # holds the (benchmark-only) keys
        temporary.replace(self.state_file)


def make_app(env: dict[str, str]):
    """The app for ``env``, with the API rate limit out of the way."""
    from consentmgr import create_app

    return create_app({**env, "API_RATE_LIMIT": ALL_REQUESTS})


class Stopwatch:
    """Named stage timings, printed as they finish."""

    def __init__(self) -> None:
        self.stages: dict[str, float] = {}

    def run(self, name: str, work: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        result = work()
        self.stages[name] = time.perf_counter() - started
        print(f"  {name}: {self.stages[name]:.1f} s", flush=True)
        return result


class Progress:
    """click's progress bar on a terminal; a line every ten seconds in a log file."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, total, 0
        self.started = self.shown = time.monotonic()
        self.bar = None
        if sys.stdout.isatty():
            import click

            self.bar = click.progressbar(length=total, label=label, show_pos=True)

    def __enter__(self) -> Self:
        if self.bar is not None:
            self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)
        else:
            self._line()

    def update(self, count: int) -> None:
        self.done += count
        if self.bar is not None:
            self.bar.update(count)
        elif time.monotonic() - self.shown >= 10:
            self._line()

    def _line(self) -> None:
        self.shown = time.monotonic()
        rate = self.done / max(self.shown - self.started, 1e-9)
        print(f"  {self.label}: {self.done:,}/{self.total:,} ({rate:,.0f}/s)", flush=True)


# -------------------------------------------------------------------- setup


def stage_setup(url: str, instance: Instance, customers: int, events: int) -> dict[str, Any]:
    """Wipe, migrate, publish policies, create the accounts; returns the new state."""
    from flask_migrate import upgrade

    from consentmgr.actors import cli_actor
    from consentmgr.apiclients.clients import create_client
    from consentmgr.audit.sequencer import drain
    from consentmgr.consent.catalogue import catalogue
    from consentmgr.extensions import db
    from consentmgr.policies.services import publish_policies
    from consentmgr.staff.accounts import create_staff
    from consentmgr.staff.signin import start_totp_enrolment

    reset_postgres(url)
    instance.path.mkdir(parents=True, exist_ok=True)
    env = bench_environment(url, instance.path / "app")
    actor = cli_actor("million")
    app = make_app(env)
    with app.app_context():
        upgrade()
        publish_policies(ROOT / "policies", actor=actor)
        db.session.commit()
        client, key = create_client("million-benchmark", ["consent:read", "events:read"],
                                    actor=actor)
        staff, _ = create_staff("agent@million.example", "Million Agent", "agent", actor=actor)
        start_totp_enrolment(staff)
        staff.totp_enrolled = True
        db.session.commit()
        client_id, staff_id = str(client.id), str(staff.id)
        drain(db.session)  # the setup's own entries get sequences 1..k
        db.session.commit()
        head = db.session.execute(db.text("SELECT sequence, hash FROM audit_head")).one()
        purposes = [
            {"slug": p.slug, "version": p.version, "notice_hash": p.notice_hash}
            for p in catalogue().purposes.values() if p.legal_basis == "consent"
        ]
        db.engine.dispose()
    state = {"url": url, "env": env, "customers": customers, "events": events,
             "api_key": key, "api_client_id": client_id, "staff_id": staff_id,
             "base_sequence": int(head.sequence), "base_hash": head.hash,
             "purposes": purposes, "t0": (dt.datetime.now(dt.UTC)
                                          - STEP * events - dt.timedelta(days=1)).isoformat(),
             "done": [], "timings": {}}
    instance.save(state)
    return state


# ---------------------------------------------------------------- customers

_worker: dict[str, Any] = {}


def _customer_worker_init(env: dict[str, str], url: str) -> None:
    import psycopg

    app = make_app(env)
    context = app.app_context()
    context.push()
    _worker.update(app=app, context=context, conn=psycopg.connect(libpq_url(url), autocommit=True))


def customer_details(index: int) -> dict[str, Any]:
    """The personal details of customer ``index`` (plausible, deterministic)."""
    from consentmgr.customers.demo import CITIES, FIRST, LANGS, LAST, STREETS, TOPICS

    first, last = FIRST[index % len(FIRST)], LAST[(index // 7) % len(LAST)]
    postcode, city, country = CITIES[index % len(CITIES)]
    return {
        "email": f"million-{index}@example.org",
        "name": f"{first} {last}",
        "phone": f"+49 {100 + index % 900} {1000000 + index % 9000000}",
        "postal_address": f"{STREETS[index % len(STREETS)]} {1 + index % 120}\n{postcode} {city}\n{country}",
        "date_of_birth": dt.date(1950 + index % 55, 1 + index % 12, 1 + index % 28),
        "preferences": {"channels": ["email"], "language": LANGS[index % len(LANGS)],
                        "topics": [TOPICS[index % len(TOPICS)]]},
    }


def _customer_chunk(bounds: tuple[int, int, str]) -> int:
    """Encrypt and COPY customers ``start``..``end - 1``; skipped if already stored."""
    from consentmgr.customers.models import Customer, CustomerStatus
    from consentmgr.customers.services import email_index_of
    from consentmgr.extensions import db
    from consentmgr.keys.services import key_cache

    start, end, created_text = bounds
    conn = _worker["conn"]
    if conn.execute("SELECT 1 FROM customers WHERE id = %s", (uid("c", end - 1),)).fetchone():
        return end - start  # committed by an earlier run
    created = dt.datetime.fromisoformat(created_text)
    session = db.session
    rows = []
    for index in range(start, end):
        details = customer_details(index)
        customer = Customer(id=uid("c", index), status=CustomerStatus.ACTIVE)
        customer.email_index = email_index_of(details["email"])
        for field in Customer.PERSONAL_FIELDS:  # encrypts under a new data key, as the app does
            setattr(customer, field, details[field])
        state = customer.__dict__
        rows.append((customer.id, "active", customer.email_index, created, created,
                     *(state[f"_{field}"] for field in Customer.PERSONAL_FIELDS)))
    # The unit of work's new keys, wrapped by the master key, as its flush would insert them.
    cache = key_cache(session)
    keys = list(zip(cache._new_owners, cache._new_masters, cache._new_wrapped))
    cache._new_owners, cache._new_masters, cache._new_wrapped = [], [], []
    session.rollback()  # drops the unwrapped keys; nothing was flushed
    with conn.transaction():
        with conn.cursor().copy(
            "COPY data_keys (owner_id, version, master_key_id, wrapped, created_at) FROM STDIN"
        ) as copy:
            for owner, master, wrapped in keys:
                copy.write_row((owner, 1, master, bytes(wrapped), created))
        columns = ", ".join(("id", "status", "email_index", "created_at", "updated_at",
                             *Customer.PERSONAL_FIELDS))
        with conn.cursor().copy(f"COPY customers ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    return end - start


def stage_customers(state: dict[str, Any], workers: int) -> None:

    count = state["customers"]
    created = (dt.datetime.fromisoformat(state["t0"]) - dt.timedelta(days=30)).isoformat()
    chunks = [(start, min(start + CUSTOMER_CHUNK, count), created)
              for start in range(0, count, CUSTOMER_CHUNK)]
    context = multiprocessing.get_context("fork")
    with (context.Pool(workers, _customer_worker_init, (state["env"], state["url"])) as pool,
          Progress("customers", count) as bar):
        for done in pool.imap_unordered(_customer_chunk, chunks):
            bar.update(done)


# ------------------------------------------------------------ events, audit


class Pattern:
    """Which customer, purpose and choice consent event ``i`` (0-based) is."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.customers = state["customers"]
        self.events = state["events"]
        self.purposes = state["purposes"]
        self.t0 = dt.datetime.fromisoformat(state["t0"])
        self.base = state["base_sequence"]
        self.client_id = state["api_client_id"]

    def event(self, i: int) -> tuple:
        """(customer index, purpose, granted?, channel, actor type, actor id, time, sequence)."""
        count = len(self.purposes)
        customer, round_ = i % self.customers, i // self.customers
        purpose = self.purposes[(round_ + customer) % count]
        granted = (round_ // count) % 2 == 0  # a purpose's first event grants
        channel = ("portal", "api", "import")[(customer + round_) % 3]
        if channel == "portal":
            actor = ("customer", str(uid("c", customer)))
        elif channel == "api":
            actor = ("api-client", self.client_id)
        else:
            actor = ("system", "cli:million")
        return (customer, purpose, granted, channel, *actor, self.t0 + STEP * i,
                self.base + 1 + i)

    def last_event(self, customer: int, purpose_index: int) -> int | None:
        """The index of the customer's last event for the purpose, if any."""
        count = len(self.purposes)
        rounds = (self.events - 1 - customer) // self.customers  # the customer's last round
        if rounds < 0:
            return None
        last = rounds - ((rounds + customer - purpose_index) % count)
        return None if last < 0 else last * self.customers + customer


def _resume_point(conn, sql: str) -> int:
    value = conn.execute(sql).fetchone()[0]
    return 0 if value is None else int(value)


def write_events(state: dict[str, Any], progress) -> None:
    """COPY the consent events (resuming after the highest stored), then the states."""
    import psycopg

    pattern = Pattern(state)
    # Autocommit: each chunk's ``transaction()`` is a real transaction, committed at its end.
    with psycopg.connect(libpq_url(state["url"]), autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        start = max(0, _resume_point(conn, "SELECT max(audit_entry_id) FROM consent_events")
                    - pattern.base)
        progress.value = start
        columns = ("id, customer_id, purpose, action, status, policy_version, notice_hash, "
                   "channel, actor_type, actor_id, occurred_at, gpc, evidence, audit_entry_id")
        evidence = json.dumps({"gpc": False})
        for chunk in range(start, pattern.events, EVENT_CHUNK):
            with conn.transaction(), conn.cursor().copy(
                    f"COPY consent_events ({columns}) FROM STDIN") as copy:
                for i in range(chunk, min(chunk + EVENT_CHUNK, pattern.events)):
                    c, purpose, granted, channel, a_type, a_id, at, sequence = pattern.event(i)
                    copy.write_row((
                        uid("e", i), uid("c", c), purpose["slug"],
                        "granted" if granted else "withdrawn",
                        "given" if granted else "withdrawn", purpose["version"],
                        purpose["notice_hash"], channel, a_type, a_id, at, False, evidence,
                        sequence))
            progress.value = min(chunk + EVENT_CHUNK, pattern.events)
        if conn.execute("SELECT 1 FROM consent_states LIMIT 1").fetchone():
            return
        with conn.transaction(), conn.cursor().copy(
                "COPY consent_states (customer_id, purpose, status, policy_version, notice_hash, "
                "event_id, updated_at) FROM STDIN") as copy:
            for c in range(pattern.customers):
                for p, purpose in enumerate(pattern.purposes):
                    i = pattern.last_event(c, p)
                    if i is None:
                        continue
                    granted = pattern.event(i)[2]
                    copy.write_row((uid("c", c), purpose["slug"],
                                    "given" if granted else "withdrawn", purpose["version"],
                                    purpose["notice_hash"], uid("e", i), pattern.t0 + STEP * i))


def write_audit(state: dict[str, Any], progress) -> None:
    """COPY one audit entry per event, chained (resuming after the highest stored)."""
    import psycopg

    from consentmgr.audit.chain import entry_hash

    pattern = Pattern(state)
    actions = {True: "consent.granted", False: "consent.withdrawn"}
    # Autocommit: each chunk's ``transaction()`` is a real transaction, committed at its end.
    with psycopg.connect(libpq_url(state["url"]), autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        last = _resume_point(conn, "SELECT max(sequence) FROM audit_entries")
        prev_hash = (conn.execute("SELECT hash FROM audit_entries WHERE sequence = %s",
                                  (last,)).fetchone()[0]
                     if last > pattern.base else state["base_hash"])
        start = max(0, last - pattern.base)
        progress.value = start
        columns = ("id, sequence, occurred_at, actor_type, actor_id, actor_role, action, "
                   "outcome, subject_id, fields, reason_code, justification, request_id, "
                   "client_hash, details, prev_hash, hash")
        for chunk in range(start, pattern.events, EVENT_CHUNK):
            with conn.transaction(), conn.cursor().copy(
                    f"COPY audit_entries ({columns}) FROM STDIN") as copy:
                for i in range(chunk, min(chunk + EVENT_CHUNK, pattern.events)):
                    c, purpose, granted, channel, a_type, a_id, at, sequence = pattern.event(i)
                    # The details the ledger records (consentmgr/consent/ledger.py).
                    details = {"purpose": purpose["slug"],
                               "status": "given" if granted else "withdrawn",
                               "policy_version": purpose["version"], "channel": channel,
                               "gpc": False}
                    values = {"sequence": sequence, "occurred_at": at, "actor_type": a_type,
                              "actor_id": a_id, "actor_role": None, "action": actions[granted],
                              "outcome": "success", "subject_id": uid("c", c), "fields": [],
                              "reason_code": None, "justification": None, "request_id": None,
                              "client_hash": None, "details": details, "prev_hash": prev_hash}
                    prev_hash = entry_hash(values)
                    copy.write_row((sequence, sequence, at, a_type, a_id, None, actions[granted],
                                    "success", values["subject_id"], "[]", None, None, None,
                                    None, json.dumps(details), values["prev_hash"], prev_hash))
            progress.value = min(chunk + EVENT_CHUNK, pattern.events)
        with conn.transaction():
            conn.execute("UPDATE audit_head SET sequence = %s, hash = %s WHERE id = 1",
                         (pattern.base + pattern.events, prev_hash))
            conn.execute("SELECT setval(pg_get_serial_sequence('audit_entries', 'id'), %s)",
                         (pattern.base + pattern.events,))


def _run_in_process(target: Callable, state: dict[str, Any], progress) -> None:
    # Own process, own app import: the two writers use a core each.
    target(state, progress)


def drop_indexes(conn) -> list[str]:
    """Drop the secondary indexes and constraints of the big tables; their definitions.

    Returned in the order to recreate them: keys, then foreign keys (which
    may reference another big table's key), then plain indexes.
    """
    keys: list[tuple[str, str, str]] = []
    foreign: list[tuple[str, str, str]] = []
    indexes: list[tuple[str, str]] = []
    for table in BIG_TABLES:
        for name, kind, definition in conn.execute(
                "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = %s::regclass AND contype IN ('p', 'u', 'f') ORDER BY conname",
                (table,)).fetchall():
            (foreign if kind == "f" else keys).append((table, name, definition))
        indexes.extend(conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = %s AND indexname NOT IN "
            "(SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
            (table, table)).fetchall())
    for name, _ in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    for table, name, _ in foreign + keys:  # foreign keys before the keys they reference
        conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    return ([f'ALTER TABLE {t} ADD CONSTRAINT "{n}" {d}' for t, n, d in keys + foreign]
            + [definition for _, definition in indexes])


def rebuild_indexes(url: str, definitions: list[str]) -> None:
    """Recreate what :func:`drop_indexes` dropped (primary and unique keys first)."""
    import psycopg

    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        for definition in definitions:
            started = time.perf_counter()
            conn.execute(definition)
            print(f"    {time.perf_counter() - started:6.1f} s  {definition[:110]}", flush=True)
        for table in BIG_TABLES + ("customers", "data_keys"):
            conn.execute(f"ANALYZE {table}")


def stage_events(state: dict[str, Any], instance: Instance) -> None:
    import psycopg

    if "dropped" not in state:
        with psycopg.connect(libpq_url(state["url"])) as conn:
            state["dropped"] = drop_indexes(conn)
        instance.save(state)
    context = multiprocessing.get_context("fork")
    progress = [context.Value("q", 0), context.Value("q", 0)]
    processes = [context.Process(target=_run_in_process, args=(target, state, value))
                 for target, value in zip((write_events, write_audit), progress)]
    for process in processes:
        process.start()
    total = 2 * state["events"]
    with Progress("events + audit entries", total) as bar:
        shown = 0
        while any(p.is_alive() for p in processes):
            time.sleep(1)
            now = sum(v.value for v in progress)
            bar.update(now - shown)
            shown = now
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise SystemExit(f"a writer failed (exit code {process.exitcode}); run seed again "
                             "to resume")


def seed(args: argparse.Namespace) -> None:
    instance = Instance(Path(args.instance))
    state = instance.load()
    fresh = (args.fresh or not state or state.get("url") != args.url
             or (state.get("customers"), state.get("events")) != (args.customers, args.events))
    watch = Stopwatch()
    if fresh:
        state = watch.run("setup", lambda: stage_setup(args.url, instance, args.customers,
                                                       args.events))
    else:
        print(f"  resuming (done: {', '.join(state['done']) or 'setup'})")
    for name, work in (("customers", lambda: stage_customers(state, args.workers)),
                       ("events", lambda: stage_events(state, instance)),
                       ("indexes", lambda: rebuild_indexes(state["url"], state.pop("dropped")))):
        if name in state["done"]:
            continue
        watch.run(name, work)
        state["done"].append(name)
        state["timings"][name] = watch.stages[name]
        instance.save(state)
    state["timings"].update({k: v for k, v in watch.stages.items() if k == "setup"})
    instance.save(state)
    print("seeding time per stage: " + ", ".join(
        f"{name} {seconds:.0f} s" for name, seconds in state["timings"].items()))


# ------------------------------------------------------------------ measure


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50": ordered[len(ordered) // 2] * 1000,
            "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
            "n": len(ordered)}


def timed(call: Callable[[], Any], repeat: int, check: Callable[[Any], bool]) -> dict[str, float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = call()
        samples.append(time.perf_counter() - started)
        if not check(response):
            raise SystemExit(f"unexpected response: {getattr(response, 'status', response)} "
                             f"{getattr(response, 'data', b'')[:300]!r}")
    return percentiles(samples)


def measure(args: argparse.Namespace) -> None:
    import random

    import sqlalchemy as sa
    from flask_migrate import upgrade

    from consentmgr.audit.sequencer import drain
    from consentmgr.audit.verify import verify_chain
    from consentmgr.extensions import db

    instance = Instance(Path(args.instance))
    state = instance.load()
    if "indexes" not in state.get("done", []):
        raise SystemExit("seed first (the database is not fully seeded)")
    app = make_app(state["env"])
    rng = random.Random(7)
    customers = state["customers"]
    purposes = [p["slug"] for p in state["purposes"]]
    results: dict[str, Any] = {"customers": customers, "events": state["events"]}
    auth = {"Authorization": f"Bearer {state['api_key']}"}
    sample = [str(uid("c", rng.randrange(customers))) for _ in range(args.samples)]
    with app.app_context():
        upgrade()  # migrations added since the seed (none of them touch the big tables)
        drain(db.session)  # anything a previous measure run left waiting
        db.session.commit()
        runs = []
        for _ in range(args.verify_runs):
            started = time.perf_counter()
            verified = verify_chain()
            runs.append(time.perf_counter() - started)
            db.session.rollback()
            if not verified.ok:
                raise SystemExit(verified.summary())
        results["verify"] = {"entries": verified.checked, "seconds": min(runs),
                             "per_second": verified.checked / min(runs)}
        print(f"  audit verify: {verified.checked:,} entries in {min(runs):.2f} s "
              f"= {verified.checked / min(runs):,.0f} entries/s", flush=True)
        client = app.test_client()

        if args.warm:  # the same requests once untimed: pages in the buffer cache
            for customer in sample:
                client.get(f"/api/v1/customers/{customer}/consents/{purposes[0]}", headers=auth)
        checks = iter(sample * 1000)
        results["check"] = timed(
            lambda: client.get(f"/api/v1/customers/{next(checks)}/consents/{purposes[0]}",
                               headers=auth),
            args.samples, lambda r: r.status_code == 200)
        print(f"  single check: {results['check']}", flush=True)

        def bulk_body() -> dict[str, Any]:
            return {"checks": [{"customer_id": str(uid("c", rng.randrange(customers))),
                                "purpose": rng.choice(purposes)} for _ in range(1000)]}
        bodies = [bulk_body() for _ in range(args.bulk_runs)]
        if args.warm:
            for body in bodies:
                client.post("/api/v1/consent-checks", json=body, headers=auth)
        bulk_iter = iter(bodies)
        results["bulk"] = timed(lambda: client.post("/api/v1/consent-checks",
                                                    json=next(bulk_iter), headers=auth),
                                args.bulk_runs,
                                lambda r: r.status_code == 200 and len(r.json["results"]) == 1000)
        print(f"  bulk check of 1,000: {results['bulk']}", flush=True)

        # Cursors into the seeded events (measure runs add staff entries after them).
        last_event = state["base_sequence"] + state["events"]
        for name, after in (("feed_start", 0), ("feed_middle", last_event // 2),
                            ("feed_end", max(0, last_event - 150))):
            results[name] = timed(
                lambda after=after: client.get(f"/api/v1/events?after={after}&limit=100",
                                               headers=auth),
                args.page_runs, lambda r: r.status_code == 200 and len(r.json["events"]) > 0)
            print(f"  feed page after {after:,}: {results[name]}", flush=True)

        from consentmgr.sessions.services import SessionKind
        from consentmgr.web.sessions import SUBJECT_KEYS

        customer_id = str(uid("c", customers // 2))
        # The portal's "who has accessed my data" lists every staff view of the
        # customer; the staff pages below view another customer, a new one per
        # run, so that list does not grow from one measure run to the next.
        from consentmgr.audit.actions import STAFF_ACCESS_ACTIONS
        from consentmgr.audit.models import AuditEntry

        results["access_entries"] = db.session.scalar(
            sa.select(sa.func.count()).select_from(AuditEntry)
            .where(AuditEntry.subject_id == uuid.UUID(customer_id),
                   AuditEntry.action.in_(STAFF_ACCESS_ACTIONS)))
        db.session.rollback()
        print(f"  the portal customer has {results['access_entries']} staff accesses listed",
              flush=True)
        viewed_id = str(uid("c", (customers // 2 + 1 + int(time.time())) % customers))
        portal = app.test_client()
        with portal.session_transaction("/portal/") as session:
            session[SUBJECT_KEYS[SessionKind.PORTAL]] = customer_id
            session["portal_last_seen"] = time.time()
        for page in ("/portal/", "/portal/details", "/portal/consents", "/portal/access"):
            results[f"portal {page}"] = timed(lambda page=page: portal.get(page), args.page_runs,
                                              lambda r: r.status_code == 200)
            print(f"  portal {page}: {results[f'portal {page}']}", flush=True)
        staff = app.test_client()
        with staff.session_transaction("/staff/") as session:
            session[SUBJECT_KEYS[SessionKind.STAFF]] = state["staff_id"]
        for page in (f"/staff/customers/{viewed_id}", f"/staff/customers/{viewed_id}/consent"):
            label = "staff " + page.replace(viewed_id, "<id>")
            results[label] = timed(lambda page=page: staff.get(page), args.page_runs,
                                   lambda r: r.status_code == 200)
            print(f"  {label}: {results[label]}", flush=True)
        drain(db.session)  # the staff views' entries, so the next verify finds no backlog
        db.session.commit()
        db.session.execute(sa.text("SELECT 1"))
        db.engine.dispose()
    out = Path(args.results)
    saved = json.loads(out.read_text()) if out.exists() else {}
    saved[str(customers)] = results
    out.write_text(json.dumps(saved, indent=1))
    print(f"  saved to {out}")
    table(args)


def table(args: argparse.Namespace) -> None:
    saved = json.loads(Path(args.results).read_text())
    sizes = sorted(saved, key=int)
    small, large = saved[sizes[0]], saved[sizes[-1]]
    header = "| figure | " + " | ".join(f"{int(s):,} customers" for s in sizes) + " | ratio |"
    print(header)
    print("|---" * (len(sizes) + 2) + "|")
    for key in small:
        if key in ("customers", "events", "access_entries"):
            continue
        if key == "verify":
            cells = [f"{saved[s]['verify']['per_second']:,.0f} entries/s "
                     f"({saved[s]['verify']['entries']:,})" for s in sizes]
            ratio = large["verify"]["per_second"] / small["verify"]["per_second"]
            print(f"| audit verify | {' | '.join(cells)} | {ratio:.2f}x |")
            continue
        for p in ("p50", "p99"):
            cells = [f"{saved[s][key][p]:.2f} ms" for s in sizes if key in saved[s]]
            if len(cells) != len(sizes):
                continue
            ratio = large[key][p] / small[key][p]
            print(f"| {key} {p} | {' | '.join(cells)} | {ratio:.2f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=("seed", "measure", "table"))
    parser.add_argument("--url", default=os.environ.get("MILLION_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--instance", default="/tmp/consentmgr-million")
    parser.add_argument("--results", default="/tmp/consentmgr-million-results.json")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--fresh", action="store_true", help="wipe and start over")
    parser.add_argument("--samples", type=int, default=2000, help="single checks to time")
    parser.add_argument("--bulk-runs", type=int, default=30)
    parser.add_argument("--page-runs", type=int, default=50)
    parser.add_argument("--verify-runs", type=int, default=2)
    parser.add_argument("--warm", action="store_true",
                        help="send the timed checks once untimed first (a warm buffer cache)")
    args = parser.parse_args()
    args.url = args.url.replace("postgresql://", "postgresql+psycopg://", 1)
    {"seed": seed, "measure": measure, "table": table}[args.step](args)


if __name__ == "__main__":
    main()
