"""``flask keys rotate-master`` and ``flask keys rotate-data`` throughput.

    python benchmarks/key_rotation.py --pg-url postgresql://postgres@127.0.0.1:5432/h3 \
        --no-sqlite --data-keys 100000 --customers 10000 --history 10

rotate-master: ``--data-keys`` data keys are bulk-loaded into the key store,
wrapped under one master key; then a second master key is put first and the
same loop as the command (one unit of work and one audit entry per batch of
``--master-batch``) re-wraps them all: keys per second.

rotate-data: ``--customers`` customers with name and email and ``--history``
history entries each (summary and details), really encrypted under their
own data keys, bulk-loaded; then the same three steps per batch as the
command (new keys; every value decrypted and encrypted again, one audit
entry; old keys destroyed), ``--data-batch`` customers per batch:
customers and values per second. A sample is read back through the models
afterwards.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from setup_common import bench_environment, on_each_database, random_key  # noqa: E402

CHUNK = 5_000


def seed_keys(db, count: int, keyring) -> None:
    """``count`` data keys of as many owners, wrapped under the current master key."""
    import sqlalchemy as sa

    from consentmgr.crypto import generate_data_key, wrap_data_key
    from consentmgr.keys.models import DataKey

    master, created = keyring.current, dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    for start in range(0, count, CHUNK):
        rows = []
        for _ in range(min(CHUNK, count - start)):
            owner = uuid.uuid4()
            rows.append({"owner_id": owner, "version": 1, "master_key_id": master.id,
                         "wrapped": wrap_data_key(master, generate_data_key(), owner_id=owner,
                                                  version=1),
                         "created_at": created})
        db.session.execute(sa.insert(DataKey.__table__), rows)
        db.session.commit()


def seed_customers(db, customers: int, history: int, keyring) -> list[uuid.UUID]:
    """Customers with an encrypted email and name and ``history`` encrypted entries each."""
    import sqlalchemy as sa

    from consentmgr.crypto import FieldCipher, generate_data_key, wrap_data_key
    from consentmgr.crypto.codecs import JSON, TEXT
    from consentmgr.crypto.envelope import location
    from consentmgr.customers.models import Customer, HistoryEntry
    from consentmgr.keys.models import DataKey

    master = keyring.current
    now = dt.datetime.now(dt.UTC)
    created = now - dt.timedelta(days=1)
    ids = []
    per_chunk = max(1, CHUNK // (history + 1))
    for start in range(0, customers, per_chunk):
        keys, people, entries = [], [], []
        for n in range(start, min(customers, start + per_chunk)):
            owner = uuid.uuid4()
            ids.append(owner)
            key = generate_data_key()
            keys.append({"owner_id": owner, "version": 1, "master_key_id": master.id,
                         "wrapped": wrap_data_key(master, key, owner_id=owner, version=1),
                         "created_at": created})
            cipher = FieldCipher(key, 1)
            people.append({
                "id": owner, "status": "active", "created_at": now, "updated_at": now,
                "email": cipher.encrypt_at(TEXT.encode(f"bench{n}@example.org"),
                                           location("customers", "email", owner)),
                "name": cipher.encrypt_at(TEXT.encode(f"Bench Person {n}"),
                                          location("customers", "name", owner)),
            })
            for h in range(history):
                entry = uuid.uuid4()
                entries.append({
                    "id": entry, "customer_id": owner, "occurred_at": now, "channel": "web",
                    "kind": "visit", "data_category": "browsing-activity", "created_at": now,
                    "summary": cipher.encrypt_at(TEXT.encode(f"Visit {h} of the garden pages"),
                                                 location("history_entries", "summary", entry)),
                    "details": cipher.encrypt_at(JSON.encode({"page": f"/garden/{h}"}),
                                                 location("history_entries", "details", entry)),
                })
        db.session.execute(sa.insert(DataKey.__table__), keys)
        db.session.execute(sa.insert(Customer.__table__), people)
        if entries:
            db.session.execute(sa.insert(HistoryEntry.__table__), entries)
        db.session.commit()
    return ids


def bench(name: str, url: str, args: argparse.Namespace) -> None:
    """Seed, rotate the master key, wipe, seed customers, rotate the data keys."""
    from flask_migrate import upgrade

    from consentmgr import create_app
    from consentmgr.actors import cli_actor
    from consentmgr.customers.models import Customer
    from consentmgr.extensions import db
    from consentmgr.keys import data_rotation
    from consentmgr.keys.models import DataKey
    from consentmgr.keys.rotation import rewrap_batch
    from consentmgr.runtime import runtime
    from consentmgr.unit_of_work import unit_of_work

    old = f"bench1:{random_key()}"
    new = f"bench2:{random_key()}"
    with tempfile.TemporaryDirectory() as instance:
        app = create_app(bench_environment(url, instance, CONSENTMGR_MASTER_KEYS=old))
        with app.app_context():
            upgrade()
            started = time.perf_counter()
            seed_keys(db, args.data_keys, runtime(app).master_keys)
            print(f"{name}: seeded {args.data_keys:,} data keys in "
                  f"{time.perf_counter() - started:.1f} s", flush=True)
            db.session.remove()
        rotated = create_app(bench_environment(url, instance,
                                               CONSENTMGR_MASTER_KEYS=f"{new},{old}"))
        with rotated.app_context():
            keyring = runtime(rotated).master_keys
            actor = cli_actor("keys rotate-master")
            done, started = 0, time.perf_counter()
            while True:
                with unit_of_work():
                    count = rewrap_batch(db.session, keyring, actor=actor,
                                         batch_size=args.master_batch)
                if not count:
                    break
                done += count
            seconds = time.perf_counter() - started
            print(f"  rotate-master (batch {args.master_batch}): {done:,} keys re-wrapped in "
                  f"{seconds:.1f} s = {done / seconds:,.0f} keys/s", flush=True)

            db.session.execute(DataKey.__table__.delete())  # rotate-data times customers only
            db.session.commit()
            started = time.perf_counter()
            ids = seed_customers(db, args.customers, args.history, keyring)
            values = args.customers * (2 + 2 * args.history)
            print(f"{name}: seeded {args.customers:,} customers x {args.history} history entries "
                  f"({values:,} encrypted values) in {time.perf_counter() - started:.1f} s",
                  flush=True)
            actor = cli_actor("keys rotate-data")
            started = time.perf_counter()
            with unit_of_work():
                rotation = data_rotation.start_or_resume(db.session, keyring)
            owners = moved = 0
            while True:
                with unit_of_work():
                    batch = data_rotation.prepare_batch(db.session, keyring, rotation,
                                                        batch_size=args.data_batch)
                if not batch:
                    break
                with unit_of_work():
                    result = data_rotation.reencrypt_batch(db.session, keyring, batch,
                                                           actor=actor, rotation=rotation)
                with unit_of_work():
                    data_rotation.destroy_old_versions(db.session, keyring, batch)
                owners += result.owners
                moved += result.values
            with unit_of_work():
                data_rotation.finish(db.session, rotation)
            seconds = time.perf_counter() - started
            print(f"  rotate-data (batch {args.data_batch}): {owners:,} customers, "
                  f"{moved:,} values re-encrypted "
                  f"in {seconds:.1f} s = {args.customers / seconds:,.0f} customers/s, "
                  f"{moved / seconds:,.0f} values/s", flush=True)
            with unit_of_work():
                for customer_id in ids[:: max(1, len(ids) // 20)]:
                    customer = db.session.get(Customer, customer_id)
                    assert customer.email.startswith("bench") and len(customer.history) == \
                        args.history and customer.history[0].details["page"].startswith("/garden")
            print("  sample read back through the models: ok", flush=True)
            db.session.remove()
            db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-keys", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--history", type=int, default=10)
    parser.add_argument("--master-batch", type=int, default=500)
    parser.add_argument("--data-batch", type=int, default=500)
    parser.add_argument("--pg-url", default=None, help="PostgreSQL database to WIPE and use")
    parser.add_argument("--no-sqlite", action="store_true")
    on_each_database(bench, parser.parse_args())


if __name__ == "__main__":
    main()
