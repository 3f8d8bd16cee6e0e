"""The data-subject export (GDPR Art. 15(3)/20) of a customer with a long history.

Creates one customer with N history entries (10,000 by default), a few
consent events, staff accesses and requests, in a fresh database (SQLite in
a temporary directory; PostgreSQL too when ``--pg-url`` or
``CONSENTMGR_BENCH_DATABASE_URL`` is given -- that database is WIPED), then
times the whole export -- every chunk of ``export_customer`` consumed, in a
fresh session as a download would run -- and reports the median of the
rounds, its ratio to the 2 s target, the chunks and the archive's size.
One more run under ``tracemalloc`` gives the peak of Python allocations
(not timed: tracing slows everything down).

``--design`` picks how history rows are read (``all``: each of them,
interleaved round by round):

* ``columns`` -- what ships: raw columns in batches, decrypted directly;
* ``orm``     -- HistoryEntry objects with ``yield_per``, each batch expunged;
* ``orm-all`` -- HistoryEntry objects, all loaded at once (the naive way).

Run: ``.venv/bin/python benchmarks/export.py [--count N] [--rounds R] [--design D|all]``.
Target (issue #11): the export of a customer with 10,000 history entries in <= 2 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Iterator

import sqlalchemy as sa
from flask_migrate import upgrade

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from consentmgr import create_app  # noqa: E402
from consentmgr.actors import Actor  # noqa: E402
from consentmgr.audit import actions  # noqa: E402
from consentmgr.audit import services as audit  # noqa: E402
from consentmgr.consent import services as consent  # noqa: E402
from consentmgr.customers import services as customers  # noqa: E402
from consentmgr.crypto.codecs import JSON  # noqa: E402
from consentmgr.customers.models import Customer, HistoryEntry  # noqa: E402
from consentmgr.extensions import db  # noqa: E402
from consentmgr.policies.services import publish_policies  # noqa: E402
from consentmgr.requests import export  # noqa: E402
from consentmgr.requests.models import DataSubjectRequest  # noqa: E402
from consentmgr.runtime import runtime  # noqa: E402
from setup_common import bench_environment, on_each_database  # noqa: E402

TARGET_SECONDS = 2.0
ROOT = Path(__file__).resolve().parent.parent
ACTOR = Actor("system", "bench")
KINDS = ("purchase", "return", "support-contact", "visit", "delivery")
CATEGORIES = ("order-history", "order-history", "support-history", "browsing-activity",
              "order-history")


def seed(count: int) -> uuid.UUID:
    """One customer with ``count`` history entries and a little of everything else."""
    publish_policies(ROOT / "policies", actor=ACTOR)
    customer = customers.create_customer({
        "email": "long-standing@example.org", "name": "Ada Longhistory",
        "phone": "+49 30 1234567", "postal_address": "Lindenstraße 1\n10969 Berlin",
        "date_of_birth": "1970-01-31",
        "preferences": {"channels": ["email"], "language": "de", "topics": ["garden", "books"]},
    }, actor=ACTOR)
    db.session.commit()
    start = dt.datetime(2015, 1, 1, tzinfo=dt.timezone.utc)
    for first in range(0, count, 1000):
        for number in range(first, min(first + 1000, count)):
            entry = HistoryEntry(id=uuid.uuid4(), customer=customer,
                                 occurred_at=start + dt.timedelta(hours=7 * number),
                                 channel="web", kind=KINDS[number % 5],
                                 data_category=CATEGORIES[number % 5])
            entry.summary = f"Order {100000 + number}: 2 items, delivered to the usual address"
            entry.details = {"order": 100000 + number, "items": number % 7 + 1,
                             "total_eur": f"{(number % 300) + 9.99:.2f}"}
            db.session.add(entry)
        db.session.commit()
        customer = db.session.get(Customer, customer.id)
    for purpose in ("marketing-email", "personalisation", "analytics"):
        if purpose == "analytics":
            consent.object_to_processing(customer, purpose, actor=ACTOR, channel="portal")
        else:
            consent.grant_consent(customer, purpose, actor=ACTOR, channel="portal")
    consent.withdraw_consent(customer, "marketing-email", actor=ACTOR, channel="portal")
    staff = Actor("staff", str(uuid.uuid4()), role="agent")
    for _ in range(20):
        audit.record(actions.CUSTOMER_VIEW, actor=staff, subject_id=customer.id)
    now = dt.datetime.now(dt.timezone.utc)
    for kind in ("access", "rectification"):
        request = DataSubjectRequest(id=uuid.uuid4(), customer_id=customer.id, type=kind,
                                     status="completed", channel="portal", received_at=now,
                                     due_at=now + dt.timedelta(days=30), completed_at=now)
        request.notes = "Asked on the phone as well"
        db.session.add(request)
    db.session.commit()
    return customer.id


# -------------------------------------------------------------- alternative designs


def _orm_rows(self, *, expunge: bool) -> Iterator[tuple[str | None, ...]]:
    query = (sa.select(HistoryEntry).where(HistoryEntry.customer_id == self.customer.id)
             .order_by(HistoryEntry.occurred_at, HistoryEntry.id))
    if expunge:
        batches = self.session.scalars(query, execution_options={"yield_per": 500}).partitions()
    else:
        batches = [list(self.session.scalars(query))]
    for batch in batches:
        for entry in batch:
            details = entry.details
            yield (str(entry.id), entry.occurred_at.isoformat(), entry.channel, entry.kind,
                   entry.data_category, entry.summary,
                   None if details is None else JSON.encode(details).decode(),
                   entry.created_at.isoformat())
        if expunge:
            for entry in batch:
                self.session.expunge(entry)


DESIGNS = {
    "columns": export._Export._history_rows,
    "orm": lambda self: _orm_rows(self, expunge=True),
    "orm-all": lambda self: _orm_rows(self, expunge=False),
}


# -------------------------------------------------------------- measuring


def one_export(customer_id: uuid.UUID) -> tuple[float, float, int, int]:
    """Wall and CPU seconds, chunks and bytes of one full export in a fresh session."""
    db.session.remove()
    gc.collect()
    key = runtime().settings.receipt_signing_key
    started, cpu = time.perf_counter(), time.process_time()
    customer = db.session.get(Customer, customer_id)
    chunks = size = 0
    for chunk in export.export_customer(customer, receipt_signing_key=key):
        chunks += 1
        size += len(chunk)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    db.session.rollback()
    return elapsed, cpu, chunks, size


def traced_peak(customer_id: uuid.UUID) -> int:
    """Peak bytes allocated by Python during one export (tracemalloc)."""
    db.session.remove()
    gc.collect()
    key = runtime().settings.receipt_signing_key
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        customer = db.session.get(Customer, customer_id)
        for _chunk in export.export_customer(customer, receipt_signing_key=key):
            pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        db.session.rollback()


def benchmark(name: str, database_url: str, args: argparse.Namespace) -> None:
    """Seed a fresh database, then time and trace the export (each design asked for)."""
    with tempfile.TemporaryDirectory() as instance:
        app = create_app(bench_environment(database_url, instance))
        with app.app_context():
            upgrade()
            started = time.perf_counter()
            customer_id = seed(args.count)
            print(f"{name}: seeded {args.count} history entries in "
                  f"{time.perf_counter() - started:.1f} s", flush=True)
            designs = sorted(DESIGNS) if args.design == "all" else [args.design]
            runs: dict[str, list] = {d: [] for d in designs}
            for design in designs:  # warm-up: policy parsing, statement caches
                export._Export._history_rows = DESIGNS[design]
                one_export(customer_id)
            for _ in range(args.rounds):  # interleaved: load swings hit every design alike
                for design in designs:
                    export._Export._history_rows = DESIGNS[design]
                    runs[design].append(one_export(customer_id))
            for design in designs:
                export._Export._history_rows = DESIGNS[design]
                times = sorted(r[0] for r in runs[design])
                median = statistics.median(times)
                cpu = statistics.median(r[1] for r in runs[design])
                peak = traced_peak(customer_id)
                _, _, chunks, size = runs[design][0]
                print(f"{name} [{design}]: median {median:.3f} s of {args.rounds} "
                      f"(min {times[0]:.3f}, max {times[-1]:.3f}; CPU {cpu:.3f} s); "
                      f"{median / TARGET_SECONDS:.2f}x the {TARGET_SECONDS:.0f} s target "
                      f"({'met' if median <= TARGET_SECONDS else 'NOT met'}); "
                      f"{chunks} chunks, {size / 1024:.0f} KiB zip; "
                      f"tracemalloc peak {peak / 1024 / 1024:.1f} MiB", flush=True)
            export._Export._history_rows = DESIGNS["columns"]
            db.session.remove()
            db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="history entries")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--design", choices=[*sorted(DESIGNS), "all"], default="columns",
                        help="how history rows are read; 'all' compares them, interleaved")
    parser.add_argument("--pg-url", default=os.environ.get("CONSENTMGR_BENCH_DATABASE_URL"),
                        help="also on this PostgreSQL database (it is WIPED)")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    on_each_database(benchmark, args)


if __name__ == "__main__":
    main()
