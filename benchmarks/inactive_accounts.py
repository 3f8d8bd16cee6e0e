"""Closing inactive accounts (``inactive_after_days``): finding them, and closing them per second.

    python benchmarks/inactive_accounts.py --pg-url postgresql://postgres@127.0.0.1:5432/h1_bench \
        --no-sqlite --customers 100000 --inactive 1000

Seeds ``--customers`` customers created three years ago (bulk-loaded: the
search reads only ids, dates and the audit trail), each with
``--entries-per-customer`` audit entries about them -- half by the
customer, half staff looking them up, spread over those three years, the
newest within the last year so they stay open -- plus ``--inactive`` real
customers (created through the service: encrypted fields, a data key each)
with nothing done since they were created, 1 % of them under a legal hold.
Publishes a policy with ``inactive_after_days: 730``, then times the dry
run (the search over every customer), the warning run (each inactive
customer warned: an audit entry and a queued mail) and, with the clock 31
days later (``time_machine``, a development dependency), the closing run
(each warned account closed by an erasure request, crypto-shredded, its
notice queued; one committed batch at a time), and prints customers
warned and accounts closed per second.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

import time_machine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from setup_common import bench_environment, on_each_database

CHUNK = 20_000
THREE_YEARS = 3 * 365


def seed_active(db, customers: int, per_customer: int) -> None:
    """Bulk-load customers created three years ago, each with audit entries, the newest recent."""
    import sqlalchemy as sa

    from consentmgr.audit.models import AuditEntry
    from consentmgr.customers.models import Customer

    rng = random.Random(14)
    now = dt.datetime.now(dt.UTC)
    born = now - dt.timedelta(days=THREE_YEARS)
    for start in range(0, customers, CHUNK):
        ids = [uuid.uuid4() for _ in range(min(CHUNK, customers - start))]
        db.session.execute(sa.insert(Customer.__table__), [
            {"id": i, "status": "active", "created_at": born, "updated_at": born} for i in ids])
        entries = []
        for i in ids:
            for n in range(per_customer):
                days = rng.randrange(365) if n == 0 else rng.randrange(THREE_YEARS)
                by_customer = n % 2 == 0
                entries.append({
                    "occurred_at": now - dt.timedelta(days=days, seconds=rng.randrange(86400)),
                    "actor_type": "customer" if by_customer else "staff",
                    "actor_id": str(i) if by_customer else "bench-agent",
                    "action": "portal.sign-in" if by_customer else "customer.view",
                    "outcome": "success", "subject_id": i, "fields": [], "details": {}})
        db.session.execute(sa.insert(AuditEntry.__table__), entries)
        db.session.commit()


def seed_inactive(db, count: int) -> int:
    """Real customers, created three years ago and idle since; 1 % held. Returns the holds."""
    import sqlalchemy as sa

    from consentmgr.actors import cli_actor
    from consentmgr.customers.models import Customer
    from consentmgr.customers.services import create_customer
    from consentmgr.requests.holds import place_legal_hold

    actor = cli_actor("bench")
    born = dt.datetime.now(dt.UTC) - dt.timedelta(days=THREE_YEARS)
    created = []
    for n in range(count):
        created.append(create_customer({"email": f"idle-{n}@example.org", "name": "Idle Example"},
                                       actor=actor))
        if n % 500 == 499:
            db.session.commit()
    held = created[: max(1, count // 100)]
    for customer in held:
        place_legal_hold(customer, actor=actor, exception="legal-claims")
    db.session.commit()
    db.session.execute(sa.update(Customer).where(Customer.id.in_([c.id for c in created]))
                       .values(created_at=born))
    db.session.commit()
    return len(held)


def inactivity_policy(directory: Path) -> Path:
    """The shipped policies plus 2026-11 (in effect from 1 November 2026), closing after 730 days."""
    text = (ROOT / "policies" / "2026-03.md").read_text(encoding="utf-8")
    text = text.replace('version: "2026-03"', 'version: "2026-11"', 1)
    text = text.replace("effective_date: 2026-03-01", "effective_date: 2026-11-01", 1)
    text = text.replace("\ndata_categories:\n", "\ninactive_after_days: 730\ndata_categories:\n", 1)
    for source in (ROOT / "policies").glob("*.md"):
        (directory / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    (directory / "2026-11.md").write_text(text, encoding="utf-8")
    return directory


def bench(name: str, url: str, args: argparse.Namespace) -> None:
    """Seed one database, then time the dry run and the closing run."""
    from flask_migrate import upgrade

    from consentmgr import create_app
    from consentmgr.actors import cli_actor
    from consentmgr.cli.purging import plan, run_purge
    from consentmgr.extensions import db
    from consentmgr.policies.services import publish_policies
    from consentmgr.requests.purge import INACTIVE_ACCOUNTS, INACTIVE_WARNINGS

    with tempfile.TemporaryDirectory() as instance:
        app = create_app(bench_environment(url, instance))
        with app.app_context():
            upgrade()
            publish_policies(inactivity_policy(Path(instance)), actor=cli_actor("bench"))
            db.session.commit()
            started = time.perf_counter()
            seed_active(db, args.customers, args.entries_per_customer)
            holds = seed_inactive(db, args.inactive)
            print(f"{name}: seeded {args.customers:,} active customers with "
                  f"{args.customers * args.entries_per_customer:,} audit entries, and "
                  f"{args.inactive:,} inactive ones ({holds} held) in "
                  f"{time.perf_counter() - started:.1f} s", flush=True)
            actor = cli_actor("retention purge")
            retention = plan(db.session, now=dt.datetime.now(dt.UTC))

            def step(report, name=INACTIVE_ACCOUNTS):
                return next(o for o in report.outcomes if o.name == name)

            started = time.perf_counter()
            dry = step(run_purge(db.session, retention, actor=actor, dry_run=True),
                       INACTIVE_WARNINGS)
            print(f"  dry run (search over {args.customers + args.inactive:,} customers): "
                  f"{dry.purged:,} would be warned, {time.perf_counter() - started:.2f} s "
                  f"(whole dry run)", flush=True)

            started = time.perf_counter()
            warned = step(run_purge(db.session, retention, actor=actor,
                                    batch_size=args.batch_size), INACTIVE_WARNINGS)
            seconds = time.perf_counter() - started
            print(f"  warning run (batch {args.batch_size:,}): {warned.purged:,} warned, "
                  f"{seconds:.1f} s = {warned.purged / seconds:,.0f} customers/s "
                  f"(whole run, other steps included)", flush=True)

            later = dt.datetime.now(dt.UTC) + dt.timedelta(days=31)
            with time_machine.travel(later, tick=True):
                retention = plan(db.session, now=later)
                started = time.perf_counter()
                done = step(run_purge(db.session, retention, actor=actor,
                                      batch_size=args.batch_size))
                seconds = time.perf_counter() - started
                print(f"  closing run 31 days later (batch {args.batch_size:,}): "
                      f"{done.purged:,} closed, {done.held} held, {seconds:.1f} s = "
                      f"{done.purged / seconds:,.0f} accounts/s (whole run, other steps included)",
                      flush=True)

                started = time.perf_counter()
                again = run_purge(db.session, retention, actor=actor)
                print(f"  second run: {step(again).purged} closed, "
                      f"{step(again, INACTIVE_WARNINGS).purged} warned in "
                      f"{time.perf_counter() - started:.2f} s", flush=True)
            db.session.remove()
            db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--entries-per-customer", type=int, default=4)
    parser.add_argument("--inactive", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--pg-url", default=None, help="PostgreSQL database to WIPE and use")
    parser.add_argument("--no-sqlite", action="store_true")
    on_each_database(bench, parser.parse_args())


if __name__ == "__main__":
    main()
