"""Consent that expires: what the term costs the check, and how fast the worker's jobs go.

    python benchmarks/consent_expiry.py --customers 2000
    python benchmarks/consent_expiry.py --pg-url postgresql://postgres@127.0.0.1:5432/h2 --no-sqlite

On a fresh database (SQLite, and PostgreSQL with ``--pg-url``, WIPED) it
publishes the shipped policies with a copy of 2026-03 that gives
``marketing-email`` a term (``valid_for_days: 730``), creates ``--customers``
customers and writes one consent state per customer for two consent
purposes: ``marketing-email`` (with ``expires_at``) and ``marketing-sms``
(without). Then it prints

1. the single check (``check_consent`` outside a unit of work, the API's
   path; the cache off, so every check reads the database): microseconds per
   check for a grant with a term and one without, interleaved rounds, median;
2. the bulk check (``check_many``, up to 1,000 pairs), milliseconds, both kinds;
3. ``send_renewal_reminders`` with every grant inside the notice period:
   reminders queued per second (each decrypts the address, seals the
   message into the outbox and enqueues its delivery job);
4. ``record_expiries`` with every grant past its term: expiries recorded
   per second (each a conditional update and an audit entry).
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
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

TERM_LINE = "    direct_marketing: true\n"


def policies_with_a_term(directory: Path) -> Path:
    """The shipped policies, 2026-03's marketing email given a term of 730 days."""
    for name in ("2025-01.md", "2026-03.md"):
        shutil.copy(ROOT / "policies" / name, directory / name)
    newest = directory / "2026-03.md"
    text = newest.read_text(encoding="utf-8")
    marker = "  - slug: marketing-email\n"
    head, tail = text.split(marker, 1)
    entry, rest = tail.split(TERM_LINE, 1)
    newest.write_text(head + marker + entry + TERM_LINE + "    valid_for_days: 730\n" + rest,
                      encoding="utf-8")
    return directory


def seed(db, customers: int, expires_at: dt.datetime) -> list[uuid.UUID]:
    """Customers (their fields encrypted, as the reminder reads the address) and their states."""
    import sqlalchemy as sa

    from consentmgr.actors import Actor
    from consentmgr.consent.catalogue import purpose_info
    from consentmgr.consent.models import ConsentState
    from consentmgr.customers.services import create_customer

    actor = Actor("system", "bench")
    ids = []
    for n in range(customers):
        ids.append(create_customer({"email": f"bench-{n}@example.org", "name": "Bench"},
                                   actor=actor).id)
        if n % 500 == 499:
            db.session.commit()
    db.session.commit()
    now = dt.datetime.now(dt.UTC)
    rows = []
    for slug, expires in (("marketing-email", expires_at), ("marketing-sms", None)):
        info = purpose_info(slug)
        rows += [{"customer_id": i, "purpose": slug, "status": "given",
                  "policy_version": info.version, "notice_hash": info.notice_hash,
                  "event_id": uuid.uuid4(), "updated_at": now, "expires_at": expires,
                  "reminded_at": None} for i in ids]
    db.session.execute(sa.insert(ConsentState.__table__), rows)
    db.session.commit()
    return ids


def time_checks(db, ids: list[uuid.UUID], rounds: int) -> dict[str, float]:
    from consentmgr.consent.checks import check_consent, check_many

    single = {"marketing-email": [], "marketing-sms": []}
    bulk = {"marketing-email": [], "marketing-sms": []}
    sample = ids[:1000]
    for _ in range(rounds):
        for slug, times in single.items():
            db.session.remove()
            started = time.perf_counter()
            for customer_id in sample:
                check_consent(customer_id, slug)
            times.append((time.perf_counter() - started) / len(sample) * 1e6)
            db.session.remove()
            started = time.perf_counter()
            check_many([(i, slug) for i in sample])
            bulk[slug].append((time.perf_counter() - started) * 1e3)
            db.session.remove()
    figures = {f"{kind} {slug}": statistics.median(values)
               for kind, found in (("single", single), ("bulk", bulk))
               for slug, values in found.items()}
    figures["pairs"] = len(sample)
    return figures


def run(name: str, url: str, args: argparse.Namespace) -> None:
    from flask_migrate import upgrade

    from consentmgr import create_app
    from consentmgr.actors import Actor
    from consentmgr.consent.expiry import record_expiries, send_renewal_reminders
    from consentmgr.extensions import db
    from consentmgr.mail import send_mail_after_commit
    from consentmgr.policies.services import publish_policies

    with tempfile.TemporaryDirectory() as instance:
        app = create_app(bench_environment(url, instance, CONSENTMGR_CHECK_CACHE="false"))
        with app.app_context():
            upgrade()
            publish_policies(policies_with_a_term(Path(instance)), actor=Actor("system", "bench"))
            db.session.commit()
            now = dt.datetime.now(dt.UTC)
            ids = seed(db, args.customers, now + dt.timedelta(days=10))
            figures = time_checks(db, ids, args.rounds)

            started = time.perf_counter()
            reminded = 0
            while True:
                done = send_renewal_reminders(db.session, now=now, notice=dt.timedelta(days=30),
                                              send=send_mail_after_commit)
                db.session.commit()
                reminded += done.sent
                if done.handled < 500:
                    break
            remind_seconds = time.perf_counter() - started

            later = now + dt.timedelta(days=11)
            started = time.perf_counter()
            expired = 0
            while True:
                handled = record_expiries(db.session, now=later)
                db.session.commit()
                expired += handled
                if handled < 500:
                    break
            expire_seconds = time.perf_counter() - started
            db.engine.dispose()

    print(f"\n{name}, {args.customers:,} customers, {args.rounds} rounds (median)")
    print(f"  single check, grant with a term     {figures['single marketing-email']:8.1f} µs")
    print(f"  single check, grant without a term  {figures['single marketing-sms']:8.1f} µs")
    pairs = f"{figures['pairs']:,} pairs"
    print(f"  bulk check {pairs}, with a term {figures['bulk marketing-email']:8.1f} ms")
    print(f"  bulk check {pairs}, no term     {figures['bulk marketing-sms']:8.1f} ms")
    print(f"  renewal reminders queued  {reminded:7,} in {remind_seconds:6.2f} s"
          f" = {reminded / remind_seconds:8,.0f} /s")
    print(f"  expiries recorded         {expired:7,} in {expire_seconds:6.2f} s"
          f" = {expired / expire_seconds:8,.0f} /s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pg-url", help="PostgreSQL database to WIPE and use")
    parser.add_argument("--no-sqlite", action="store_true")
    on_each_database(run, parser.parse_args())


if __name__ == "__main__":
    main()
