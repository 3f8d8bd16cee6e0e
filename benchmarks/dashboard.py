"""The DPO dashboard: page render time at scale, and the refresh's throughput on a real ledger.

1. **Render.** Seeds ``dashboard_aggregates`` directly with what a refresh of
   a large ledger produces -- by default 1,000,000 customers and 10,000,000
   consent events over two years (four consent purposes, each choice a
   grant, refusal, withdrawal or objection, GPC signals; requests of six
   types with their answer times; reveals by 200 staff (real accounts: their names are decrypted) under five reasons;
   20 API clients) -- then times ``GET /staff/dashboard`` (signed in as the
   DPO, through the whole Flask stack, template included) for each period.
   The page reads only the aggregates, so the customers and events
   themselves need not exist; their numbers set the counts in the rows.
2. **Refresh.** Records ``--events`` real consent choices through the ledger
   (with their audit entries) for ``--customers`` customers, then times the
   refresh that counts them all from an empty watermark, and an incremental
   one after a further 1,000 choices: entries per second.

Fresh databases: SQLite in a temporary directory; PostgreSQL too with
``--pg-url`` (that database is WIPED). Run:
``.venv/bin/python benchmarks/dashboard.py [--rounds R] [--events N] [--pg-url URL]``.
Target (issue #15): the dashboard renders in <= 300 ms with 1,000,000
customers and 10,000,000 consent events.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from flask_migrate import upgrade

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from consentmgr import create_app  # noqa: E402
from consentmgr.actors import Actor  # noqa: E402
from consentmgr.audit.sequencer import drain  # noqa: E402
from consentmgr.consent.ledger import record_choice  # noqa: E402
from consentmgr.consent.models import ConsentAction  # noqa: E402
from consentmgr.customers import services as customers  # noqa: E402
from consentmgr.dashboard import aggregates as agg  # noqa: E402
from consentmgr.dashboard.models import DailyAggregate  # noqa: E402
from consentmgr.extensions import db  # noqa: E402
from consentmgr.policies.services import publish_policies  # noqa: E402
from consentmgr.sql import utcnow  # noqa: E402
from consentmgr.staff import services as staff  # noqa: E402
from setup_common import bench_environment, on_each_database  # noqa: E402

TARGET_MS = 300
ROOT = Path(__file__).resolve().parent.parent
ACTOR = Actor("system", "bench")
PURPOSES = ("marketing-email", "marketing-sms", "personalisation", "product-reviews")
ACTION_SHARE = {"consent_granted": 0.55, "consent_refused": 0.25, "consent_withdrawn": 0.17,
                "consent_objected": 0.03}
REQUEST_TYPES = ("access", "portability", "rectification", "erasure", "restriction", "objection")
REASONS = ("support-ticket", "customer-request", "legal-obligation", "fraud-investigation",
           "data-subject-request")


def seed_staff(count: int) -> list[str]:
    """``count`` real staff accounts (their names are decrypted for the per-staff chart)."""
    ids = []
    for i in range(count):
        user, _ = staff.create_staff(f"agent{i}@staff.example", f"Agent Number{i}", "agent",
                                     actor=ACTOR)
        ids.append(str(user.id))
    db.session.commit()
    return ids


def seed_aggregates(*, customers_total: int, events: int, days: int) -> int:
    """Rows as a refresh of that ledger would leave them; returns how many were written."""
    rng = random.Random(15)
    staff_ids = seed_staff(200)
    today = utcnow().date()
    per_day = events / days
    rows = []
    for back in range(days):
        day = today - dt.timedelta(days=back)
        week = agg.week_of(day)

        def add(metric: str, dimension: str, value: float, day: dt.date = day,
                week: dt.date = week) -> None:
            if value >= 1:
                rows.append({"metric": metric, "day": day, "week": week, "dimension": dimension,
                             "value": int(value)})

        for purpose in PURPOSES:
            for metric, share in ACTION_SHARE.items():
                add(metric, purpose, per_day / len(PURPOSES) * share * rng.uniform(.7, 1.3))
            add(agg.CONSENT_GPC, purpose, per_day / len(PURPOSES) * 0.02)
        requests_per_day = customers_total * 0.02 / 365  # 2 % of customers ask each year
        for kind in REQUEST_TYPES:
            add(agg.REQUESTS_RECEIVED, kind, requests_per_day / 6 * rng.uniform(.5, 1.5))
            add(agg.REQUESTS_ANSWERED, kind, requests_per_day / 6 * rng.uniform(.5, 1.5))
            add(agg.REQUESTS_ON_TIME, kind, requests_per_day / 6 * 0.93)
        for days_taken in range(45):
            add(agg.REQUESTS_ANSWER_DAYS, str(days_taken), requests_per_day / 20 * rng.random())
        for reason in REASONS:
            add(agg.REVEALS_BY_REASON, reason, rng.randint(20, 200))
        if day == week:  # staff and clients are counted by week (on its Monday)
            for member in staff_ids:
                add(agg.REVEALS_BY_STAFF, member, rng.randint(1, 60))
            for client in range(20):
                add(agg.API_CALLS, f"{client:08d}-0000-4000-8000-00000000c11e",
                    rng.randint(1, 30000))
    for purpose in PURPOSES:
        rows.append({"metric": agg.RENEWALS_OUTSTANDING, "day": today, "week": agg.week_of(today),
                     "dimension": purpose, "value": customers_total // 40})
    table = DailyAggregate.__table__
    for first in range(0, len(rows), 10_000):
        db.session.execute(table.insert(), rows[first:first + 10_000])
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        # What autovacuum would have done by the time anyone looks: statistics for the planner.
        with db.engine.connect() as conn:
            conn.execute(sa.text("ANALYZE dashboard_aggregates"))
            conn.commit()
    return len(rows)


def signed_in_dpo(app):
    """A test client with a DPO's staff session."""
    user, _ = staff.create_staff("bench-dpo@staff.example", "Bench DPO", "dpo", actor=ACTOR)
    db.session.commit()
    client = app.test_client()
    with client.session_transaction("/staff/") as session:
        session["staff_id"] = str(user.id)
    return client


def time_render(app, rounds: int) -> dict[int, list[float]]:
    """Milliseconds per GET /staff/dashboard, per period."""
    client = signed_in_dpo(app)
    timings: dict[int, list[float]] = {4: [], 12: [], 52: []}
    for weeks in timings:  # warm-up: templates, statement caches
        assert client.get(f"/staff/dashboard?weeks={weeks}").status_code == 200
    for _ in range(rounds):
        for weeks, runs in timings.items():
            started = time.perf_counter()
            response = client.get(f"/staff/dashboard?weeks={weeks}")
            runs.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.status_code
    return timings


def seed_ledger(count: int, events: int) -> None:
    """``events`` real consent choices by ``count`` customers, through the ledger."""
    rng = random.Random(16)
    people = []
    for i in range(count):
        people.append(customers.create_customer({"email": f"bench{i}@example.org",
                                                 "name": f"Bench {i}"}, actor=ACTOR))
    db.session.commit()
    today = utcnow()
    for i in range(events):
        action = rng.choice((ConsentAction.GRANTED, ConsentAction.GRANTED,
                             ConsentAction.WITHDRAWN, ConsentAction.REFUSED))
        record_choice(rng.choice(people), rng.choice(PURPOSES[:3]), action, actor=ACTOR,
                      channel="import", collected_at=today - dt.timedelta(days=rng.randint(0, 364)))
        if i % 500 == 499:
            db.session.commit()
    db.session.commit()
    drain(db.session)  # PostgreSQL: sequence the entries, as the worker does
    db.session.commit()


def time_refresh() -> tuple[int, float]:
    """(entries counted, seconds) of refreshes until caught up."""
    started, total = time.perf_counter(), 0
    while True:
        result = agg.refresh(db.session, now=utcnow())
        db.session.commit()
        total += result.entries
        if result.caught_up:
            return total, time.perf_counter() - started


def benchmark(name: str, database_url: str, args: argparse.Namespace) -> None:
    """Seed, then time the page and the refresh."""
    with tempfile.TemporaryDirectory() as instance:
        app = create_app(bench_environment(database_url, instance))
        with app.app_context():
            upgrade()
            publish_policies(ROOT / "policies", actor=ACTOR)
            db.session.commit()
            started = time.perf_counter()
            rows = seed_aggregates(customers_total=args.customers_total, events=args.ledger_events,
                                   days=args.days)
            print(f"{name}: seeded {rows:,} aggregate rows ({args.days} days; "
                  f"{args.customers_total:,} customers, {args.ledger_events:,} consent events) "
                  f"in {time.perf_counter() - started:.1f} s", flush=True)
            for weeks, runs in time_render(app, args.rounds).items():
                runs.sort()
                median = statistics.median(runs)
                p95 = runs[max(0, int(len(runs) * 0.95) - 1)]
                print(f"{name}: GET /staff/dashboard?weeks={weeks}: median {median:.1f} ms, "
                      f"p95 {p95:.1f} ms, max {runs[-1]:.1f} ms of {len(runs)}; "
                      f"{'meets' if median <= TARGET_MS else 'MISSES'} the {TARGET_MS} ms target",
                      flush=True)
            db.session.execute(sa.delete(DailyAggregate))
            db.session.commit()
            started = time.perf_counter()
            seed_ledger(args.customers, args.events)
            print(f"{name}: recorded {args.events:,} consent choices for {args.customers:,} "
                  f"customers in {time.perf_counter() - started:.1f} s", flush=True)
            counted, seconds = time_refresh()
            print(f"{name}: refresh from an empty watermark counted {counted:,} audit entries "
                  f"in {seconds:.2f} s ({counted / seconds:,.0f} entries/s)", flush=True)
            rng = random.Random(17)
            person = customers.create_customer({"email": "late@example.org", "name": "Late Bench"},
                                             actor=ACTOR)
            for _ in range(1000):
                record_choice(person, rng.choice(PURPOSES[:3]), ConsentAction.GRANTED,
                              actor=ACTOR, channel="portal")
            db.session.commit()
            drain(db.session)
            db.session.commit()
            counted, seconds = time_refresh()
            print(f"{name}: incremental refresh of {counted:,} new entries in "
                  f"{seconds * 1000:.0f} ms", flush=True)
            db.session.remove()
            db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--customers-total", type=int, default=1_000_000,
                        help="customers the seeded aggregates stand for")
    parser.add_argument("--ledger-events", type=int, default=10_000_000,
                        help="consent events the seeded aggregates stand for")
    parser.add_argument("--days", type=int, default=730, help="days of seeded aggregates")
    parser.add_argument("--customers", type=int, default=200, help="real customers to refresh")
    parser.add_argument("--events", type=int, default=10_000, help="real choices to refresh")
    parser.add_argument("--pg-url", default=None)
    parser.add_argument("--no-sqlite", action="store_true")
    on_each_database(benchmark, parser.parse_args())


if __name__ == "__main__":
    main()
