"""The breach register's heavy steps: selecting customers from a large audit trail, mailing them,
and generating the Art. 30 record.

    python benchmarks/breach_register.py --entries 1000000 --notify 1000
    python benchmarks/breach_register.py --pg-url postgresql://postgres@127.0.0.1:5432/h6 \
        --no-sqlite

Seeds ``--entries`` ``customer.view``/``customer.reveal`` audit entries by
``--staff`` staff accounts over the last 90 days, about ``--customers``
distinct customers (bulk-loaded: selection reads ids and times only), then
times

1. the selection (:func:`consentmgr.breaches.services.select_affected_customers`)
   of one staff account's customers over a 7-day and a 90-day window;
2. telling ``--notify`` real customers (created through the service, so
   each has an encrypted address, and opened by one staff account): the
   DPO's request (:func:`~consentmgr.breaches.services.request_notice`:
   records the run, enqueues its job), then the worker's job
   (:func:`~consentmgr.breaches.services.run_notice_job`, run until the run
   is done): selection, and each mail composed, sealed and queued with its
   audit entry, in committed batches -- mails queued per second;
3. rendering ``GET /staff/records-of-processing`` (the record built from the
   published policy and the running configuration), median of 20.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from setup_common import bench_environment, on_each_database

CHUNK = 50_000


def seed_views(db, *, entries: int, customers: int, staff: list[str]) -> None:
    """Bulk-load staff access entries (unsequenced: selection does not read the chain)."""
    import sqlalchemy as sa

    from consentmgr.audit.models import AuditEntry

    rng = random.Random(15)
    now = dt.datetime.now(dt.UTC)
    subjects = [uuid.uuid4() for _ in range(customers)]
    table = AuditEntry.__table__
    for start in range(0, entries, CHUNK):
        rows = [{"occurred_at": now - dt.timedelta(seconds=rng.randrange(90 * 86400)),
                 "actor_type": "staff", "actor_id": staff[n % len(staff)], "actor_role": "agent",
                 "action": "customer.view" if n % 4 else "customer.reveal", "outcome": "success",
                 "subject_id": subjects[rng.randrange(customers)], "fields": [],
                 "details": {}} for n in range(start, min(entries, start + CHUNK))]
        db.session.execute(sa.insert(table), rows)
        db.session.commit()
    if db.engine.dialect.name == "postgresql":
        db.session.execute(sa.text("ANALYZE audit_entries"))
        db.session.commit()


def bench(name: str, url: str, args: argparse.Namespace) -> None:
    """Seed, then time the three steps on one database."""
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from consentmgr import create_app
    from consentmgr.actors import Actor, cli_actor
    from consentmgr.audit.models import AuditEntry
    from consentmgr.breaches import services
    from consentmgr.breaches.models import BreachNoticeRun
    from consentmgr.customers import services as customers
    from consentmgr.extensions import db
    from consentmgr.policies.services import publish_policies
    from consentmgr.staff import services as staff

    with tempfile.TemporaryDirectory() as instance:
        app = create_app(bench_environment(url, instance))
        with app.app_context():
            upgrade()
            publish_policies(ROOT / "policies", actor=cli_actor("bench"))
            accounts = [staff.create_staff(f"agent{n}@staff.example", f"Agent {n}", "agent",
                                           actor=cli_actor("bench"))[0] for n in range(args.staff)]
            dpo = staff.create_staff("dpo@staff.example", "DPO", "dpo", actor=cli_actor("bench"))[0]
            db.session.commit()
            staff_ids = [str(a.id) for a in accounts]
            dpo_id = str(dpo.id)
            started = time.perf_counter()
            seed_views(db, entries=args.entries, customers=args.customers, staff=staff_ids)
            print(f"{name}: seeded {args.entries:,} access entries by {args.staff} staff over "
                  f"90 days in {time.perf_counter() - started:.1f} s", flush=True)

            now = dt.datetime.now(dt.UTC)
            for days in (7, 90):
                started = time.perf_counter()
                found = services.select_affected_customers(
                    staff_ids[0], now - dt.timedelta(days=days), now)
                print(f"  select one account's customers, {days}-day window: {len(found):,} "
                      f"customers in {(time.perf_counter() - started) * 1000:.0f} ms", flush=True)

            actor = Actor("staff", dpo_id, role="dpo")
            people = [customers.create_customer({"email": f"reader{n}@example.org",
                                                 "name": f"Reader {n}"}, actor=cli_actor("bench"))
                      for n in range(args.notify)]
            misused = staff.create_staff("misused@staff.example", "Misused", "agent",
                                         actor=cli_actor("bench"))[0]
            db.session.commit()
            opened_at = now - dt.timedelta(minutes=30)
            db.session.execute(sa.insert(AuditEntry.__table__), [
                {"occurred_at": opened_at, "actor_type": "staff", "actor_id": str(misused.id),
                 "actor_role": "agent", "action": "customer.view", "outcome": "success",
                 "subject_id": p.id, "fields": [], "details": {}} for p in people])
            breach = services.record_breach({
                "discovered_at": now - dt.timedelta(hours=2), "description": "Bench",
                "data_categories": "Contact details", "approx_people": args.notify,
                "consequences": "None", "measures": "None"}, actor=actor)
            services.decide_customer_notice(breach, required=True, reason="Bench", actor=actor)
            db.session.commit()
            breach_id, misused_id = breach.id, misused.id
            del people
            db.session.expunge_all()  # a worker's session holds none of the seeded customers
            breach = db.session.get(type(breach), breach_id)
            started = time.perf_counter()
            run = services.request_notice(db.session, breach, str(misused_id),
                                          now - dt.timedelta(hours=1), dt.datetime.now(dt.UTC),
                                          actor=actor)
            db.session.commit()
            print(f"  notify, the DPO's request (record the run, enqueue its job): "
                  f"{(time.perf_counter() - started) * 1000:.1f} ms", flush=True)
            started, jobs = time.perf_counter(), 0
            while db.session.get(BreachNoticeRun, run.id, populate_existing=True).finished_at \
                    is None:
                # The worker's handler, job after job (each ends after BATCHES_PER_JOB batches).
                job_started = time.perf_counter()
                services.run_notice_job(db.session, {"run": str(run.id)})
                db.session.commit()
                jobs += 1
                print(f"    job {jobs}: {time.perf_counter() - job_started:.2f} s", flush=True)
            seconds = time.perf_counter() - started
            mailed = db.session.get(BreachNoticeRun, run.id).mailed
            print(f"  notify, the worker: {mailed:,} mails selected, sealed and queued with their "
                  f"audit entries in {jobs} job(s), {seconds:.2f} s = {mailed / seconds:,.0f} "
                  f"mails/s", flush=True)
            db.session.remove()

        timings = []
        client = app.test_client()
        with client.session_transaction("/staff/") as session:
            session["staff_id"] = dpo_id
        for _ in range(21):
            started = time.perf_counter()
            response = client.get("/staff/records-of-processing")
            timings.append(time.perf_counter() - started)
            assert response.status_code == 200, response.status_code
        print(f"  GET /staff/records-of-processing: median "
              f"{statistics.median(timings[1:]) * 1000:.1f} ms over 20", flush=True)
        with app.app_context():
            db.engine.dispose()


def main() -> None:
    """Parse the options and run on each database."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--staff", type=int, default=20)
    parser.add_argument("--notify", type=int, default=1000)
    parser.add_argument("--pg-url", default=None, help="PostgreSQL database to WIPE and use")
    parser.add_argument("--no-sqlite", action="store_true")
    on_each_database(bench, parser.parse_args())


if __name__ == "__main__":
    main()
