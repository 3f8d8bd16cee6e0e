"""Webhook latency: from the commit of a change to its signed delivery at a receiver.

Webhooks are fanned out from the change feed and sent by ``flask worker``'s
webhook loop (``consentmgr/webhooks/dispatcher.py``). This measures how
long a receiver waits for a change, with an idle worker:

1. a fresh database (SQLite, and PostgreSQL with ``--pg-url``), migrated;
2. a local HTTP receiver (``http.server`` on 127.0.0.1) that notes when each
   delivery arrives and checks its signature;
3. a webhook for ``customer.rectified`` registered to it
   (``CONSENTMGR_WEBHOOKS_ALLOW_PRIVATE=true``: the receiver is on loopback);
4. one ``flask worker`` process (webhook loop polling every ``--poll``
   seconds, default 0.2, the default of ``CONSENTMGR_WEBHOOKS_POLL_SECONDS``;
   on PostgreSQL the audit sequencer places the entry first);
5. ``--changes`` rectifications (default 30), each committed at a random
   moment (so commits fall anywhere in the poll interval), timing
   commit -> arrival;
6. prints min, median, p90 and max, in ms.

Only loopback addresses are contacted. ``--pg-url`` names a database the
benchmark may wipe.

Run::

    .venv/bin/python benchmarks/webhook_latency.py
    .venv/bin/python benchmarks/webhook_latency.py \\
        --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from setup_common import bench_environment, on_each_database


class Arrivals:
    """When each customer's rectification arrived, and whether every signature verified."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.secret = ""
        self.bad_signatures = 0
        self.changed = threading.Condition()

    def arrived(self, headers, body: bytes) -> None:
        from consentmgr.crypto.webhook_signing import verify

        now = time.perf_counter()
        if not verify(self.secret, headers["webhook-id"], int(headers["webhook-timestamp"]),
                      body, headers["webhook-signature"]):
            self.bad_signatures += 1
        customer = json.loads(body)["data"].get("customer_id", "")
        with self.changed:
            self.at.setdefault(customer, now)
            self.changed.notify_all()

    def wait(self, customer: str, timeout: float) -> float | None:
        """When ``customer``'s change arrived, or None after ``timeout`` seconds."""
        with self.changed:
            self.changed.wait_for(lambda: customer in self.at, timeout)
            return self.at.get(customer)


def _receiver(arrivals: Arrivals) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            arrivals.arrived({k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def run(name: str, database_url: str, args: argparse.Namespace) -> None:
    from flask_migrate import upgrade

    arrivals = Arrivals()
    server = _receiver(arrivals)
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    with tempfile.TemporaryDirectory() as instance:
        env = bench_environment(database_url, instance, CONSENTMGR_WEBHOOKS_ALLOW_PRIVATE="true",
                                CONSENTMGR_WEBHOOKS_POLL_SECONDS=str(args.poll))
        os.environ.update(env)  # the app below reads the same settings as the worker
        from consentmgr import create_app
        from consentmgr.actors import Actor
        from consentmgr.apiclients.services import create_client
        from consentmgr.customers import services as customers
        from consentmgr.extensions import db
        from consentmgr.webhooks.services import register_webhook

        actor = Actor("system", "bench")
        app = create_app()
        with app.app_context():
            upgrade()
            client, _ = create_client("bench", ["webhooks:write", "events:read"], actor=actor)
            issued = register_webhook(db.session, client.id, url, ["customer.rectified"],
                                      scopes=["webhooks:write", "events:read"], actor=actor,
                                      allow_private=True)
            arrivals.secret = issued.secret
            people = [customers.create_customer({"email": f"bench{n}@example.org",
                                                 "name": "Bench Person"}, actor=actor)
                      for n in range(args.changes + 1)]
            db.session.commit()
        worker = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "worker"],
            cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        latencies: list[float] = []
        try:
            rng = random.Random(args.seed)
            with app.app_context():
                for n, person in enumerate(people):
                    if n:
                        time.sleep(rng.uniform(0, max(args.poll, 0.2)))
                    person = db.session.merge(person)
                    customers.rectify_customer(person, {"name": f"Bench Person {n}"},
                                               actor=actor)
                    db.session.commit()
                    committed = time.perf_counter()
                    arrived = arrivals.wait(str(person.id), 60 if n == 0 else 30)
                    if arrived is None:
                        raise SystemExit(f"change {n} did not arrive")
                    if n:  # the first is the warm-up (the worker starting)
                        latencies.append((arrived - committed) * 1000)
                db.engine.dispose()
        finally:
            worker.terminate()
            worker.wait(20)
            server.shutdown()
    print(f"{name}: {len(latencies)} changes, webhook loop polling every {args.poll:g} s; "
          f"commit -> arrival: min {min(latencies):.0f}  median {statistics.median(latencies):.0f}"
          f"  p90 {_percentile(latencies, 0.9):.0f}  max {max(latencies):.0f} ms; "
          f"bad signatures: {arrivals.bad_signatures}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=30)
    parser.add_argument("--poll", type=float, default=0.2, help="the webhook loop's poll, seconds")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--pg-url", help="a PostgreSQL database the benchmark may wipe")
    parser.add_argument("--no-sqlite", action="store_true")
    on_each_database(run, parser.parse_args())


if __name__ == "__main__":
    main()
