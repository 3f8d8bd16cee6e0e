"""Field-level encryption cost: consentmgr vs plain columns vs sqlalchemy-utils.

Inserts then selects N customers with five personal fields on SQLite, three
ways, interleaved round by round (so drift in machine load hits all three
alike), and reports the median of the rounds:

* plain     -- the same five fields as plain text columns (the floor);
* consentmgr-- our encrypted fields: a data key per customer, wrapped by the
               master key and stored in the key store, AES-256-GCM per value;
* sa-utils  -- sqlalchemy-utils ``StringEncryptedType`` with ``AesGcmEngine``
               (one shared key, no per-customer keys).

Each variant uses the ORM the same way: ``add_all`` + ``commit`` for insert;
a fresh session, ``select`` all rows and read every field for select. Each
starts from a freshly collected heap (see ``clear``).

Run: ``make bench`` or ``.venv/bin/python benchmarks/field_encryption.py [--count N] [--rounds R]``.
Targets (issue #2): consentmgr <= 1.3x plain and >= 2.3x faster than sa-utils.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import gc
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy_utils import StringEncryptedType
from sqlalchemy_utils.types.encrypted.encrypted_type import AesGcmEngine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from consentmgr import create_app  # noqa: E402
from consentmgr.customers.models import Customer, CustomerStatus  # noqa: E402
from consentmgr.extensions import db  # noqa: E402
from consentmgr.keys.models import DataKey  # noqa: E402
from consentmgr.sql import utcnow  # noqa: E402

FIELDS = ("email", "name", "phone", "postal_address", "date_of_birth")
SAU_KEY = os.urandom(32)


class Other(DeclarativeBase):
    pass


def _status() -> sa.Enum:
    """The ``customers.status`` column type, so every variant stores status alike."""
    return sa.Enum(CustomerStatus, native_enum=False, length=16,
                   values_callable=lambda e: [m.value for m in e])


class PlainCustomer(Other):
    """The same table as ``customers``, with the personal fields in clear."""

    __tablename__ = "bench_plain"
    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    status: Mapped[CustomerStatus] = mapped_column(_status())
    email_index: Mapped[str | None] = mapped_column(sa.String(80), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    email: Mapped[str | None] = mapped_column(sa.Text)
    name: Mapped[str | None] = mapped_column(sa.Text)
    phone: Mapped[str | None] = mapped_column(sa.Text)
    postal_address: Mapped[str | None] = mapped_column(sa.Text)
    date_of_birth: Mapped[dt.date | None] = mapped_column(sa.Date)
    preferences: Mapped[str | None] = mapped_column(sa.Text)


def _sau(type_=sa.String):
    return StringEncryptedType(type_, SAU_KEY, AesGcmEngine)


class SauCustomer(Other):
    """The same table with sqlalchemy-utils' encrypted columns."""

    __tablename__ = "bench_sau"
    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    status: Mapped[CustomerStatus] = mapped_column(_status())
    email_index: Mapped[str | None] = mapped_column(sa.String(80), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    email: Mapped[str | None] = mapped_column(_sau())
    name: Mapped[str | None] = mapped_column(_sau())
    phone: Mapped[str | None] = mapped_column(_sau())
    postal_address: Mapped[str | None] = mapped_column(_sau())
    date_of_birth: Mapped[dt.date | None] = mapped_column(_sau(sa.Date))
    preferences: Mapped[str | None] = mapped_column(_sau())


def people(count: int) -> list[dict]:
    return [
        {
            "email": f"customer{i}@example.com",
            "name": f"Customer Number {i}",
            "phone": f"+49 30 {1000000 + i}",
            "postal_address": f"Lindenstraße {i % 200}\n10115 Berlin\nDE",
            "date_of_birth": dt.date(1950 + i % 50, 1 + i % 12, 1 + i % 28),
        }
        for i in range(count)
    ]


def run_variant(name: str, model, rows: list[dict]) -> tuple[float, float]:
    session = db.session
    start = time.perf_counter()
    objects = []
    for row in rows:
        obj = model(id=uuid.uuid4(), status="active")
        for field in FIELDS:
            setattr(obj, field, row[field])
        objects.append(obj)
    session.add_all(objects)
    session.commit()
    inserted = time.perf_counter() - start
    db.session.remove()

    session = db.session
    start = time.perf_counter()
    loaded = session.scalars(sa.select(model)).all()
    values = [getattr(obj, field) for obj in loaded for field in FIELDS]
    selected = time.perf_counter() - start
    assert len(loaded) == len(rows)
    assert sorted(v for v in values if isinstance(v, str) and "@" in v) == sorted(r["email"] for r in rows)
    db.session.remove()
    return inserted, selected


def clear(model) -> None:
    """Empty the variant's tables, and start it from a freshly collected heap.

    Without the collection, garbage left by the previous variant would be
    collected on this one's clock, and the cycle collector's thresholds would
    carry over from variant to variant: in a fixed order, one variant would
    systematically pay for its neighbour.
    """
    with db.engine.begin() as conn:
        conn.execute(sa.delete(model.__table__))
        if model is Customer:
            conn.execute(sa.delete(DataKey.__table__))
    gc.collect()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-gc", action="store_true",
                        help="disable Python's cycle collector (shows its share of the cost)")
    args = parser.parse_args()
    if args.no_gc:
        gc.disable()

    workdir = Path(tempfile.mkdtemp(prefix="consentmgr-bench-"))
    key = base64.b64encode(os.urandom(32)).decode()
    app = create_app({
        "CONSENTMGR_DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}",
        "CONSENTMGR_MASTER_KEYS": f"bench:{key}",
        "CONSENTMGR_BLIND_INDEX_KEYS": f"bench:{key}",
        "CONSENTMGR_SECRET_KEY": "bench-" + "x" * 40,
        "CONSENTMGR_INSTANCE_PATH": str(workdir),
    })
    rows = people(args.count)
    variants = {"plain": PlainCustomer, "consentmgr": Customer, "sa-utils": SauCustomer}
    totals: dict[str, list[float]] = {name: [] for name in variants}
    parts: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        Other.metadata.create_all(db.engine)
        for round_no in range(1, args.rounds + 1):
            for name, model in variants.items():
                clear(model)
                inserted, selected = run_variant(name, model, rows)
                totals[name].append(inserted + selected)
                parts[name].append((inserted, selected))
                print(f"round {round_no} {name:<11} insert {inserted:6.3f}s  select {selected:6.3f}s", flush=True)

    median = {name: statistics.median(values) for name, values in totals.items()}
    print()
    print(f"{args.count} customers, five personal fields, SQLite, median of {args.rounds} rounds (insert + select):")
    for name in variants:
        ins = statistics.median(p[0] for p in parts[name])
        sel = statistics.median(p[1] for p in parts[name])
        print(f"  {name:<11} {median[name]:6.3f}s   (insert {ins:.3f}s, select {sel:.3f}s)")
    vs_plain = median["consentmgr"] / median["plain"]
    vs_sau = median["sa-utils"] / median["consentmgr"]
    print(f"consentmgr / plain    = {vs_plain:.2f}x  (target <= 1.30x: {'met' if vs_plain <= 1.3 else 'MISSED'})")
    print(f"sa-utils / consentmgr = {vs_sau:.2f}x  (target >= 2.30x: {'met' if vs_sau >= 2.3 else 'MISSED'})")


if __name__ == "__main__":
    main()
