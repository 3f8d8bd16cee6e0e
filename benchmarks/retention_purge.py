"""``flask retention purge`` over a large history: entries deleted per second.

    python benchmarks/retention_purge.py --pg-url postgresql://postgres@127.0.0.1:5432/h1 \
        --no-sqlite --entries 1000000

Seeds ``--customers`` customers and ``--entries`` history entries spread
evenly over the last six years across four data categories of the shipped
policy (browsing activity 396 days, device data 183, support history 1095,
orders 4018), with 1 % of the customers under a legal hold. The rows are
bulk-loaded (PostgreSQL: COPY; SQLite: executemany), their summaries random
90-byte blobs: the purge never decrypts, so a blob of a real ciphertext's
size costs the same to delete. Then it times a dry run and the real run
(the same code as the command and the worker's job: committed batches, one
audit entry each) and prints entries deleted per second, and checks that a
second run finds nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from setup_common import bench_environment, on_each_database

CATEGORIES = ("browsing-activity", "device-data", "support-history", "order-history")
SPAN_DAYS = 6 * 365
CHUNK = 50_000


def seed(db, customers: int, entries: int) -> tuple[list[uuid.UUID], int]:
    """Bulk-load customers, holds and history; returns the customer ids and the holds placed."""
    import sqlalchemy as sa

    from consentmgr.customers.models import Customer, HistoryEntry
    from consentmgr.requests.models import LegalHold

    rng = random.Random(14)
    now = dt.datetime.now(dt.UTC)
    ids = [uuid.uuid4() for _ in range(customers)]
    db.session.execute(sa.insert(Customer.__table__), [
        {"id": i, "status": "active", "created_at": now, "updated_at": now} for i in ids])
    held = ids[: max(1, customers // 100)]
    db.session.execute(sa.insert(LegalHold.__table__), [
        {"id": uuid.uuid4(), "customer_id": i, "exception": "legal-claims", "placed_at": now,
         "placed_by": "system:bench"} for i in held])
    db.session.commit()
    blobs = [os.urandom(90) for _ in range(1000)]

    def row(n: int) -> tuple:
        return (uuid.uuid4(), ids[n % customers],
                now - dt.timedelta(seconds=rng.randrange(SPAN_DAYS * 86400)), "web", "visit",
                CATEGORIES[n % len(CATEGORIES)], now, blobs[n % len(blobs)])

    columns = ("id", "customer_id", "occurred_at", "channel", "kind", "data_category",
               "created_at", "summary")
    if db.engine.dialect.name == "postgresql":
        raw = db.engine.raw_connection()
        try:
            driver = raw.driver_connection
            for start in range(0, entries, CHUNK):
                with driver.transaction(), driver.cursor().copy(
                        f"COPY history_entries ({', '.join(columns)}) FROM STDIN") as copy:
                    for n in range(start, min(entries, start + CHUNK)):
                        copy.write_row(row(n))
            with driver.cursor() as cursor:
                cursor.execute("ANALYZE history_entries")
            driver.commit()
        finally:
            raw.close()
    else:
        table = HistoryEntry.__table__
        for start in range(0, entries, CHUNK):
            db.session.execute(sa.insert(table), [dict(zip(columns, row(n)))
                                                  for n in range(start, min(entries, start + CHUNK))])
            db.session.commit()
    return ids, len(held)


def bench(name: str, url: str, args: argparse.Namespace) -> None:
    """Seed one database, then time the dry run and the purge."""
    from flask_migrate import upgrade

    from consentmgr import create_app
    from consentmgr.actors import cli_actor
    from consentmgr.cli.purging import plan, run_purge
    from consentmgr.extensions import db
    from consentmgr.policies.services import publish_policies

    with tempfile.TemporaryDirectory() as instance:
        app = create_app(bench_environment(url, instance))
        with app.app_context():
            upgrade()
            publish_policies(ROOT / "policies", actor=cli_actor("bench"))
            db.session.commit()
            started = time.perf_counter()
            _, holds = seed(db, args.customers, args.entries)
            seeded = time.perf_counter() - started
            print(f"{name}: seeded {args.entries:,} history entries of {args.customers:,} customers "
                  f"({holds} under a legal hold) in {seeded:.1f} s", flush=True)
            actor = cli_actor("retention purge")
            retention = plan(db.session, now=dt.datetime.now(dt.UTC))

            started = time.perf_counter()
            dry = run_purge(db.session, retention, actor=actor, dry_run=True)
            dry_seconds = time.perf_counter() - started
            print(f"  dry run: {dry.purged:,} would go, {dry.held:,} held, {dry_seconds:.2f} s",
                  flush=True)

            started = time.perf_counter()
            report = run_purge(db.session, retention, actor=actor, batch_size=args.batch_size)
            seconds = time.perf_counter() - started
            print(f"  purge (batch {args.batch_size:,}): {report.purged:,} deleted, "
                  f"{report.held:,} held, {seconds:.1f} s = "
                  f"{report.purged / seconds:,.0f} entries/s", flush=True)

            started = time.perf_counter()
            again = run_purge(db.session, retention, actor=actor, batch_size=args.batch_size)
            print(f"  second run: {again.purged} deleted in {time.perf_counter() - started:.2f} s",
                  flush=True)
            db.session.remove()
            db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--pg-url", default=None, help="PostgreSQL database to WIPE and use")
    parser.add_argument("--no-sqlite", action="store_true")
    on_each_database(bench, parser.parse_args())


if __name__ == "__main__":
    main()
