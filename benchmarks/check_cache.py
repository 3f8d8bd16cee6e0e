"""The consent check's cache on PostgreSQL: what it saves, what it costs writes, how fresh it stays.

PostgreSQL only (``--pg-url``; that database is WIPED). In one process it

1. builds a fresh database: migrations (with the NOTIFY triggers of 0014),
   the shipped policy, ``--customers`` customers, half of them consenting;
2. times ``check_consent`` outside a unit of work (the API's path), cached
   (warm) and uncached (``CONSENTMGR_CHECK_CACHE=false``), in interleaved
   rounds: microseconds per check;
3. times the smallest write the triggers see (one ``consent_states`` row
   updated and committed) with the triggers firing and with them skipped
   (``session_replication_role = replica`` on the benchmark's own
   connections), at 1 and at ``--writers`` connections: NOTIFY takes a
   lock from commit to commit-done, so notifying commits are serialised;
4. measures notification delay in an idle process: from a commit returning
   on another connection to the cache having evicted the row;
5. kills the listener's connection (``pg_terminate_backend``) and measures
   how long until the cache stops serving, and until it serves again.

The staleness under load (checker processes at full CPU) is measured by
``tests/scale/test_check_staleness.py``; run it with ``-s`` for its figures.

Run::

    .venv/bin/python benchmarks/check_cache.py --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

import sqlalchemy as sa
from setup_common import bench_environment, reset_postgres

PURPOSE = "marketing-email"


def build(environment: dict[str, str], customers: int) -> list[uuid.UUID]:
    """Migrate, publish, seed; return the customer ids."""
    from flask_migrate import upgrade

    from consentmgr import create_app
    from consentmgr.actors import Actor
    from consentmgr.config import PROJECT_ROOT
    from consentmgr.consent import services
    from consentmgr.customers.services import create_customer
    from consentmgr.extensions import db
    from consentmgr.policies.services import publish_policies

    actor = Actor("system", "bench")
    app = create_app(environment)
    ids = []
    with app.app_context():
        upgrade()
        publish_policies(PROJECT_ROOT / "policies", actor=actor)
        for i in range(customers):
            customer = create_customer({"email": f"bench{i}@example.org", "name": "Bench"},
                                       actor=actor)
            if i % 2 == 0:
                services.grant_consent(customer, PURPOSE, actor=actor, channel="api")
            ids.append(customer.id)
        db.session.commit()
        db.engine.dispose()
    return ids


def make_app(environment: dict[str, str], **extra: str):
    from consentmgr import create_app

    return create_app({**environment, **extra})


def wait_serving(app) -> object:
    """The app's cache, once its listener listens (started by a first check)."""
    from consentmgr.consent.checks import check_consent, check_sources

    with app.app_context():
        cache = check_sources().cache
    while not cache.serving:
        # Its own app context each time, as a request has: a context whose session
        # is in a transaction (the catalogue's first load) reads the session instead.
        with app.app_context():
            try:
                check_consent(uuid.uuid4(), PURPOSE)
            except Exception:  # noqa: BLE001 - an unknown customer: only the side effect matters
                pass
        time.sleep(0.005)
    return cache


def time_checks(app, ids: list[uuid.UUID], passes: int) -> float:
    """Microseconds per check as the API makes it: an app context each, no unit of work."""
    from consentmgr.consent.checks import check_consent

    for customer_id in ids:  # warm (fills a cache, compiles the statement, loads the catalogue)
        with app.app_context():
            check_consent(customer_id, PURPOSE)
    start = time.perf_counter()
    for _ in range(passes):
        for customer_id in ids:
            with app.app_context():
                check_consent(customer_id, PURPOSE)
    elapsed = time.perf_counter() - start
    return elapsed / (passes * len(ids)) * 1e6


def write_rate(url: str, ids: list[uuid.UUID], *, writers: int, seconds: float,
               announce: bool) -> float:
    """Committed one-row consent_states updates per second, over ``writers`` connections."""
    engine = sa.create_engine(url, pool_size=writers, max_overflow=0)
    done = [0] * writers
    stop = time.monotonic() + seconds

    def write(slot: int) -> None:
        with engine.connect() as conn:
            if not announce:
                conn.execute(sa.text("SET session_replication_role = replica"))
                conn.commit()
            n = 0
            while time.monotonic() < stop:
                customer_id = ids[(slot + n * writers) % len(ids)]
                conn.execute(sa.text("UPDATE consent_states SET updated_at = now() "
                                     "WHERE customer_id = :c AND purpose = :p"),
                             {"c": customer_id, "p": PURPOSE})
                conn.commit()
                n += 1
            done[slot] = n

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.dispose()
    return sum(done) / seconds


def notification_delays(app, url: str, ids: list[uuid.UUID], samples: int) -> list[float]:
    """Milliseconds from a commit returning (elsewhere) to this process's cache evicting the row."""
    from consentmgr.consent.check_cache import MISS
    from consentmgr.consent.checks import check_consent, check_sources

    with app.app_context():
        cache = check_sources().cache
    engine = sa.create_engine(url)
    delays = []
    granted = ids[0::2][:samples]
    with engine.connect() as conn:
        for customer_id in granted:
            with app.app_context():
                check_consent(customer_id, PURPOSE)
            assert cache.get(customer_id, PURPOSE)[0] is not MISS
            conn.execute(sa.text("UPDATE consent_states SET updated_at = now() "
                                 "WHERE customer_id = :c AND purpose = :p"),
                         {"c": customer_id, "p": PURPOSE})
            conn.commit()
            committed = time.perf_counter()
            while cache.get(customer_id, PURPOSE)[0] is not MISS:
                time.sleep(0.00005)  # idle: the listener thread gets the interpreter at once
            delays.append((time.perf_counter() - committed) * 1000)
    engine.dispose()
    return delays


def listener_loss(app, url: str) -> tuple[float, float]:
    """Milliseconds from killing the listener's connection to the cache serving nothing,
    and from there to serving again (a new connection, LISTEN, the trigger check)."""
    cache = wait_serving(app)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        start = time.perf_counter()
        conn.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": cache.listener_pid})
        while cache.serving:
            time.sleep(0.00005)
        stopped = time.perf_counter()
        while not cache.serving:
            time.sleep(0.0005)
        again = time.perf_counter()
    engine.dispose()
    return (stopped - start) * 1000, (again - stopped) * 1000


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pg-url", required=True, help="PostgreSQL database to WIPE and use")
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--passes", type=int, default=3, help="passes over the customers per round")
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument("--write-seconds", type=float, default=3.0)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    url = args.pg_url.replace("postgresql://", "postgresql+psycopg://", 1)
    reset_postgres(url)
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        t0 = time.perf_counter()
        environment = bench_environment(url, root)  # one set of keys for every app below
        ids = build(environment, args.customers)
        print(f"seeded {len(ids)} customers in {time.perf_counter() - t0:.1f} s")
        cached_app = make_app(environment)
        plain_app = make_app(environment, CONSENTMGR_CHECK_CACHE="false")
        wait_serving(cached_app)

        cached, plain = [], []
        for _ in range(args.rounds):
            cached.append(time_checks(cached_app, ids, args.passes))
            plain.append(time_checks(plain_app, ids, args.passes))
        c, p = statistics.median(cached), statistics.median(plain)
        print(f"check_consent, in process, median of {args.rounds} rounds: cached {c:.1f} us, "
              f"uncached {p:.1f} us ({p / c:.1f}x)")

        for writers in (1, args.writers):
            on = write_rate(url, ids, writers=writers, seconds=args.write_seconds, announce=True)
            off = write_rate(url, ids, writers=writers, seconds=args.write_seconds, announce=False)
            print(f"one-row consent_states commits, {writers} connection(s): "
                  f"{on:.0f}/s with NOTIFY triggers, {off:.0f}/s without ({on / off:.2f}x)")

        delays = notification_delays(cached_app, url, ids, args.samples)
        print(f"commit elsewhere -> evicted here (idle process, {len(delays)} samples): "
              f"p50 {statistics.median(delays):.2f} ms, p99 {pct(delays, 0.99):.2f} ms, "
              f"max {max(delays):.2f} ms")

        stopped, again = listener_loss(cached_app, url)
        print(f"listener connection killed -> cache off in {stopped:.1f} ms; "
              f"serving again {again:.0f} ms later")


if __name__ == "__main__":
    main()
