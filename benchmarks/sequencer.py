"""How fast the audit sequencer places entries, and how much a write gains from it (PostgreSQL).

1. Writes ``--entries`` audit entries (default 50,000) the way requests do
   (``audit.record``, committed in transactions of ``--per-transaction``),
   with no sequencer running, and reports the write rate.
2. Runs the sequencer's batch step (``sequence_pending``, one transaction
   per batch of ``--batch``) until nothing waits, and reports entries placed
   per second and the time per batch.
3. Verifies the chain.

The sequencer must place entries faster than the busiest write load
produces them, or the backlog (and ``audit status``) grows.

Run::

    .venv/bin/python benchmarks/sequencer.py --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/bench

The database is WIPED first.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid

from setup_common import bench_environment, reset_postgres


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-url", default=os.environ.get("CONSENTMGR_BENCH_DATABASE_URL"),
                        required=not os.environ.get("CONSENTMGR_BENCH_DATABASE_URL"))
    parser.add_argument("--entries", type=int, default=50_000)
    parser.add_argument("--per-transaction", type=int, default=1)
    parser.add_argument("--batch", type=int, default=2000)
    args = parser.parse_args()
    url = args.pg_url.replace("postgresql://", "postgresql+psycopg://", 1)
    reset_postgres(url)
    with tempfile.TemporaryDirectory() as instance:
        os.environ.update(bench_environment(url, instance))
        from flask_migrate import upgrade

        from consentmgr import create_app
        from consentmgr.actors import Actor
        from consentmgr.audit.sequencer import backlog, sequence_pending
        from consentmgr.audit.services import record, verify_chain
        from consentmgr.extensions import db

        app = create_app()
        with app.app_context():
            upgrade()
            actor = Actor("staff", str(uuid.uuid4()), "agent")
            started = time.perf_counter()
            for number in range(args.entries):
                record("customer.view", actor=actor, subject_id=uuid.uuid4(),
                       details={"n": number})
                if (number + 1) % args.per_transaction == 0:
                    db.session.commit()
            db.session.commit()
            wrote = time.perf_counter() - started
            print(f"wrote {args.entries:,} entries unsequenced in {wrote:.1f} s: "
                  f"{args.entries / wrote:,.0f}/s ({args.per_transaction} per transaction, "
                  "one connection, in-process)")

            batches = []
            started = time.perf_counter()
            while True:
                begun = time.perf_counter()
                batch = sequence_pending(db.session, limit=args.batch)
                db.session.commit()
                if batch is None:
                    break
                batches.append((batch.count, time.perf_counter() - begun))
            placed = time.perf_counter() - started
            total = sum(count for count, _ in batches)
            per_batch = [seconds * 1000 for _, seconds in batches]
            print(f"sequenced {total:,} entries in {placed:.2f} s: {total / placed:,.0f} entries/s; "
                  f"{len(batches)} batches of up to {args.batch}, median "
                  f"{statistics.median(per_batch):.0f} ms, max {max(per_batch):.0f} ms")
            assert backlog(db.session).count == 0
            started = time.perf_counter()
            result = verify_chain()
            verified = time.perf_counter() - started
            print(f"verify: {result.summary()[:60]}... {result.checked:,} entries in "
                  f"{verified:.2f} s ({result.checked / verified:,.0f}/s)")
            db.session.remove()
            db.engine.dispose()


if __name__ == "__main__":
    main()
