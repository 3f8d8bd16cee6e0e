"""``audit verify`` speed: the designs tried for scanning a long chain, side by side.

Runs against a database seeded by ``million.py`` (its instance directory
holds the keys), over the first ``--entries`` entries of the chain (default:
all), and prints entries/s for each design:

- **reference**: the general path (still used on SQLite): SQLAlchemy Core
  rows in batches of 1,000, each turned into a mapping and hashed with
  :func:`consentmgr.audit.chain.entry_hash` (datetime, UUID and sorted
  ``json.dumps`` per entry);
- **copy**: what ``verify_chain`` does on PostgreSQL for a short chain
  (:mod:`consentmgr.audit.scan`): ``COPY (SELECT ...) TO STDOUT`` text rows,
  the canonical encoding joined from their bytes, one process;
- **copy-2-processes**: what it does from ``scan.PARALLEL_FROM`` entries on:
  the two halves of the chain in two processes, on one exported snapshot
  (whole chains only: ``--entries`` does not reach the second process);
- **verify_chain**: the whole command (head, checkpoints, backlog check).

Run::

    .venv/bin/python benchmarks/verify_speed.py                     # all entries
    .venv/bin/python benchmarks/verify_speed.py --entries 1000000 --designs reference,copy

Designs tried on the way and since dropped (numbers in benchmarks/README.md):
the database writing the encoding with ``to_json`` read through a
server-side cursor, with and without a reader thread, and the database
writing the whole document for COPY.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from million import make_app  # benchmarks/ is the script's directory


def reference(session, limit: int | None) -> int:
    import sqlalchemy as sa

    from consentmgr.audit.chain import ChainVerifier
    from consentmgr.audit.models import AuditEntry

    entries = AuditEntry.__table__
    statement = (sa.select(entries).where(entries.c.sequence.is_not(None))
                 .order_by(entries.c.sequence).execution_options(yield_per=1000))
    if limit:
        statement = statement.where(entries.c.sequence <= limit)
    verifier = ChainVerifier()
    for row in session.execute(statement):
        if not verifier.feed(row._mapping):
            raise SystemExit(verifier.result().summary())
    return verifier.checked


def copy_scan(session, limit: int | None, *, parallel: bool) -> int:
    from consentmgr.audit import scan
    from consentmgr.audit.chain import ChainVerifier

    original = scan._copy_statement, scan.PARALLEL_FROM
    if limit:
        if parallel:  # the second process would read past the limit
            raise SystemExit("--entries applies to the single-process designs only")
        scan._copy_statement = lambda after, up_to: original[0](
            after, limit if up_to is None else min(up_to, limit))
    scan.PARALLEL_FROM = 0 if parallel else 10**12
    try:
        verifier = ChainVerifier()
        scan.scan_chain(session, verifier)
        if verifier.failure is not None:
            raise SystemExit(verifier.result().summary())
        return verifier.checked
    finally:
        scan._copy_statement, scan.PARALLEL_FROM = original


def whole(session, limit: int | None) -> int:
    from consentmgr.audit.verify import verify_chain

    result = verify_chain(session)
    if not result.ok:
        raise SystemExit(result.summary())
    return result.checked


DESIGNS = {
    "reference": reference,
    "copy": lambda s, n: copy_scan(s, n, parallel=False),
    "copy-2-processes": lambda s, n: copy_scan(s, n, parallel=True),
    "verify_chain": whole,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instance", default="/tmp/consentmgr-million")
    parser.add_argument("--entries", type=int, default=0, help="the first N entries (0: all)")
    parser.add_argument("--designs", default="reference,copy,copy-2-processes,verify_chain")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    state = json.loads((Path(args.instance) / "state.json").read_text())
    app = make_app(state["env"])
    from consentmgr.extensions import db

    with app.app_context():
        for _ in range(args.runs):
            for name in args.designs.split(","):
                started = time.perf_counter()
                count = DESIGNS[name](db.session, args.entries or None)
                seconds = time.perf_counter() - started
                db.session.rollback()
                print(f"{name:>14}: {count:>11,} entries in {seconds:7.2f} s = "
                      f"{count / seconds:>9,.0f} entries/s", flush=True)


if __name__ == "__main__":
    main()
