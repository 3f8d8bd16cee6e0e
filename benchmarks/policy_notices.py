"""Notices before a material policy change: how fast customers are counted and told.

    python benchmarks/policy_notices.py --customers 2000
    python benchmarks/policy_notices.py --pg-url postgresql://postgres@127.0.0.1:5432/h10 --no-sqlite

On a fresh database (SQLite, and PostgreSQL with ``--pg-url``, WIPED) it
publishes the shipped policies, creates ``--customers`` customers (half of
them with a given consent to ``marketing-email``), then publishes a copy of
2026-03 that takes effect in 30 days and adds a recipient to
``marketing-email`` (a material change to a consent purpose). It prints

1. the dry run (``count_affected``: in all, not told yet, per purpose), ms;
2. ``notice_batch`` run until none is left, committed per batch of 200 (the
   worker's job without its pause): notices queued per second (each decrypts
   the address and language, seals the message into the outbox, enqueues its
   delivery job and writes the ``policy_notices`` row; one audit entry per
   batch);
3. a second full pass (every customer told already): ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from setup_common import bench_environment, on_each_database

LABEL = "2099-notice"


def upcoming_policy(directory: Path) -> None:
    """A copy of 2026-03 in 30 days whose marketing email has a second recipient."""
    text = (ROOT / "policies" / "2026-03.md").read_text(encoding="utf-8")
    day = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=30)).isoformat()
    text = text.replace('version: "2026-03"', f'version: "{LABEL}"', 1)
    text = text.replace("effective_date: 2026-03-01", f"effective_date: {day}", 1)
    marker = "  - slug: marketing-email\n"
    head, tail = text.split(marker, 1)
    entry, rest = tail.split("    recipients:\n", 1)
    text = head + marker + entry + "    recipients:\n      - Second Mailer Ltd.\n" + rest
    (directory / f"{LABEL}.md").write_text(text, encoding="utf-8")


def seed(db, customers: int) -> None:
    import sqlalchemy as sa

    from consentmgr.actors import Actor
    from consentmgr.consent.catalogue import purpose_info
    from consentmgr.consent.models import ConsentState
    from consentmgr.customers.services import create_customer

    actor = Actor("system", "bench")
    ids = []
    for n in range(customers):
        ids.append(create_customer({"email": f"bench-{n}@example.org", "name": "Bench",
                                    "preferences": {"language": "de" if n % 3 else "en"}},
                                   actor=actor).id)
        if n % 500 == 499:
            db.session.commit()
    db.session.commit()
    info = purpose_info("marketing-email")
    now = dt.datetime.now(dt.UTC)
    db.session.execute(sa.insert(ConsentState.__table__), [
        {"customer_id": i, "purpose": "marketing-email", "status": "given",
         "policy_version": info.version, "notice_hash": info.notice_hash,
         "event_id": uuid.uuid4(), "updated_at": now, "expires_at": None, "reminded_at": None}
        for i in ids[::2]])
    db.session.commit()


def run(name: str, url: str, args: argparse.Namespace) -> None:
    from flask_migrate import upgrade

    from consentmgr import create_app
    from consentmgr.actors import Actor
    from consentmgr.extensions import db
    from consentmgr.mail import send_mail_after_commit
    from consentmgr.notices.services import count_affected, notice_batch, notice_scope
    from consentmgr.policies.services import publish_policies

    with tempfile.TemporaryDirectory() as instance:
        directory = Path(instance) / "policies"
        directory.mkdir()
        for source in sorted((ROOT / "policies").glob("*.md")):
            shutil.copy(source, directory / source.name)
        app = create_app(bench_environment(url, instance, CONSENTMGR_BASE_URL="https://x.example"))
        with app.app_context():
            upgrade()
            publish_policies(directory, actor=Actor("system", "bench"))
            db.session.commit()
            seed(db, args.customers)
            upcoming_policy(directory)
            publish_policies(directory, actor=Actor("system", "bench"))
            db.session.commit()
            scope = notice_scope(LABEL)

            started = time.perf_counter()
            counts = count_affected(db.session, scope)
            dry_ms = (time.perf_counter() - started) * 1e3

            def full_pass() -> tuple[int, float]:
                queued, begun = 0, time.perf_counter()
                while True:
                    result = notice_batch(db.session, scope, size=200,
                                          send=send_mail_after_commit)
                    db.session.commit()
                    queued += result.mailed
                    if not result.more:
                        return queued, time.perf_counter() - begun

            queued, seconds = full_pass()
            again, again_seconds = full_pass()
            db.engine.dispose()

    print(f"\n{name}, {args.customers:,} customers ({counts.affected:,} concerned)")
    print(f"  dry run (count in all, untold, per purpose)  {dry_ms:8.1f} ms")
    print(f"  notices queued            {queued:7,} in {seconds:6.2f} s"
          f" = {queued / seconds:8,.0f} /s")
    print(f"  second pass (all told)    {again:7,} in {again_seconds * 1e3:6.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--pg-url", help="PostgreSQL database to WIPE and use")
    parser.add_argument("--no-sqlite", action="store_true")
    on_each_database(run, parser.parse_args())


if __name__ == "__main__":
    main()
