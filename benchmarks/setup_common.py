"""What every benchmark sets up the same way: fresh keys, and an empty PostgreSQL database.

The scripts run as ``python benchmarks/<name>.py``, so this module is
imported by its plain name (``benchmarks/`` is the script's directory).
"""

from __future__ import annotations

import argparse
import base64
import os
import tempfile
from pathlib import Path
from typing import Callable


def random_key() -> str:
    """32 random bytes, base64: a key-ring entry's key, a signing key or half a secret."""
    return base64.b64encode(os.urandom(32)).decode()


def bench_environment(database_url: str, instance: str | Path, **extra: str) -> dict[str, str]:
    """``CONSENTMGR_*`` settings for a throw-away instance: fresh keys each run, and ``extra``."""
    return {
        "CONSENTMGR_DATABASE_URL": database_url,
        "CONSENTMGR_MASTER_KEYS": f"bench1:{random_key()}",
        "CONSENTMGR_BLIND_INDEX_KEYS": f"benchidx1:{random_key()}",
        "CONSENTMGR_SECRET_KEY": random_key() + random_key(),
        "CONSENTMGR_AUDIT_SIGNING_KEY": random_key(),
        "CONSENTMGR_RECEIPT_SIGNING_KEY": random_key(),
        "CONSENTMGR_INSTANCE_PATH": str(instance),
        **extra,
    }


def reset_postgres(url: str) -> None:
    """An empty public schema in the database ``url`` names (created if missing). WIPES it."""
    import sqlalchemy as sa  # only the PostgreSQL runs need it before the app is imported

    target = sa.engine.make_url(url)
    server = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                              {"name": target.database}).first()
        if exists is None:
            conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    server.dispose()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def on_each_database(benchmark: Callable[[str, str, argparse.Namespace], object],
                     args: argparse.Namespace) -> None:
    """Run ``benchmark(name, url, args)`` on a fresh SQLite file (unless ``--no-sqlite``)
    and, with ``--pg-url``, on that PostgreSQL database, wiped first."""
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as directory:
            benchmark("SQLite", f"sqlite:///{directory}/bench.db", args)
    if args.pg_url:
        url = args.pg_url.replace("postgresql://", "postgresql+psycopg://", 1)
        reset_postgres(url)
        benchmark("PostgreSQL", url, args)
