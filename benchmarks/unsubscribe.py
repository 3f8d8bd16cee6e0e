"""One-click unsubscribe (RFC 8058): what a link costs to make and check, and how fast a click answers.

    python benchmarks/unsubscribe.py --customers 300
    python benchmarks/unsubscribe.py --pg-url postgresql://postgres@127.0.0.1:5432/h8 --no-sqlite

On a fresh database (SQLite, and PostgreSQL with ``--pg-url``, WIPED) it
publishes the shipped policies, creates ``--customers`` customers who gave
consent to ``marketing-email``, and prints

1. issuing and reading a signed token (HKDF-derived HMAC, no database):
   microseconds each, median of rounds;
2. ``GET /api/v1/customers/<id>/unsubscribe-link`` through the app
   in-process (key check, customer status, catalogue, signing): ms, median;
3. the one-click ``POST /unsubscribe/<token>`` (``List-Unsubscribe=One-Click``)
   through the app in-process: each withdraws a consent (ledger event, state,
   audit entry, encrypted note) and commits; ms median and 95th percentile;
4. the same POST again (nothing left to withdraw: the idempotent answer).
"""

from __future__ import annotations

import argparse
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

PURPOSE = "marketing-email"
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def time_tokens(tokens, rounds: int) -> tuple[float, float]:
    customer_id = uuid.uuid4()
    issue, read = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(1000):
            token, _ = tokens.issue(customer_id, PURPOSE)
        issue.append((time.perf_counter() - started) / 1000 * 1e6)
        started = time.perf_counter()
        for _ in range(1000):
            tokens.read(token)
        read.append((time.perf_counter() - started) / 1000 * 1e6)
    return statistics.median(issue), statistics.median(read)


def run(name: str, url: str, args: argparse.Namespace) -> None:
    from flask_migrate import upgrade

    from consentmgr import create_app
    from consentmgr.actors import Actor
    from consentmgr.apiclients.services import create_client
    from consentmgr.consent.services import grant_consent
    from consentmgr.customers.services import create_customer
    from consentmgr.extensions import db
    from consentmgr.policies.services import publish_policies
    from consentmgr.runtime import runtime

    actor = Actor("system", "bench")
    with tempfile.TemporaryDirectory() as instance:
        app = create_app(bench_environment(url, instance, CONSENTMGR_API_RATE_LIMIT="1000000 per minute"))
        with app.app_context():
            upgrade()
            publish_policies(ROOT / "policies", actor=actor)
            ids = []
            for n in range(args.customers):
                customer = create_customer({"email": f"bench-{n}@example.org", "name": "Bench"},
                                           actor=actor)
                grant_consent(customer, PURPOSE, actor=actor, channel="api")
                ids.append(customer.id)
            _, key = create_client("bench", ["consent:read"], actor=actor)
            db.session.commit()
            db.session.remove()
        links = runtime(app).links
        issue_us, read_us = time_tokens(links.unsubscribe_tokens, args.rounds)

        client = app.test_client()
        bearer = {"Authorization": f"Bearer {key}"}
        api_ms, paths = [], []
        for customer_id in ids:
            started = time.perf_counter()
            response = client.get(f"/api/v1/customers/{customer_id}/unsubscribe-link"
                                  f"?purpose={PURPOSE}", headers=bearer)
            api_ms.append((time.perf_counter() - started) * 1e3)
            assert response.status_code == 200, response.get_data(as_text=True)
            link = response.get_json()["url"]
            paths.append(link[link.index("/unsubscribe/"):])
        click_ms, again_ms = [], []
        for path in paths:
            started = time.perf_counter()
            response = client.post(path, data=ONE_CLICK)
            click_ms.append((time.perf_counter() - started) * 1e3)
            assert response.status_code == 200
        for path in paths:
            started = time.perf_counter()
            response = client.post(path, data=ONE_CLICK)
            again_ms.append((time.perf_counter() - started) * 1e3)
            assert response.status_code == 200
        with app.app_context():
            db.engine.dispose()

    print(f"\n{name}, {args.customers:,} customers")
    print(f"  token issue                          {issue_us:8.1f} µs")
    print(f"  token read (verify)                  {read_us:8.1f} µs")
    print(f"  GET unsubscribe-link (API)           {statistics.median(api_ms):8.2f} ms median"
          f"  {percentile(api_ms, 0.95):8.2f} ms p95")
    print(f"  one-click POST, withdraws            {statistics.median(click_ms):8.2f} ms median"
          f"  {percentile(click_ms, 0.95):8.2f} ms p95")
    print(f"  one-click POST again (no change)     {statistics.median(again_ms):8.2f} ms median"
          f"  {percentile(again_ms, 0.95):8.2f} ms p95")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pg-url", help="PostgreSQL database to WIPE and use")
    parser.add_argument("--no-sqlite", action="store_true")
    on_each_database(run, parser.parse_args())


if __name__ == "__main__":
    main()
