"""Mail latency: from the commit that queues a message to its arrival at the SMTP server.

Mail goes through the database outbox and ``flask worker`` sends it
(``consentmgr/mail/outbox.py``). This measures what that costs a customer
waiting for a sign-in link, with an idle worker:

1. a fresh database (SQLite, and PostgreSQL with ``--pg-url``), migrated;
2. a local SMTP server (aiosmtpd) that notes when each message arrives;
3. one ``flask worker`` process (``--poll`` seconds between idle polls,
   default 1, the default of ``CONSENTMGR_WORKER_POLL_SECONDS``);
4. ``--messages`` messages (default 30), each queued and committed at a
   random moment (so commits fall anywhere in the worker's poll interval),
   timing commit -> arrival;
5. prints min, median, p90 and max, in ms.

Only loopback addresses are contacted. ``--pg-url`` names a database the
benchmark may wipe.

Run::

    .venv/bin/python benchmarks/mail_latency.py
    .venv/bin/python benchmarks/mail_latency.py --poll 0.2 \\
        --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from setup_common import bench_environment, on_each_database  # noqa: E402


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Arrivals:
    """An aiosmtpd handler that notes when each subject arrives."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.changed = threading.Condition()

    async def handle_DATA(self, server, session, envelope):
        subject = next((line.split(":", 1)[1].strip() for line in
                        envelope.content.decode(errors="replace").splitlines()
                        if line.lower().startswith("subject:")), "")
        with self.changed:
            self.at[subject] = time.perf_counter()
            self.changed.notify_all()
        return "250 OK"

    def wait(self, subject: str, timeout: float) -> float | None:
        """When ``subject`` arrived, or None after ``timeout`` seconds."""
        with self.changed:
            self.changed.wait_for(lambda: subject in self.at, timeout)
            return self.at.get(subject)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def run(name: str, database_url: str, args: argparse.Namespace) -> None:
    from aiosmtpd.controller import Controller
    from flask_migrate import upgrade

    arrivals = Arrivals()
    smtp = Controller(arrivals, hostname="127.0.0.1", port=_free_port())
    smtp.start()
    with tempfile.TemporaryDirectory() as instance:
        env = bench_environment(database_url, instance, CONSENTMGR_SMTP_HOST="127.0.0.1",
                                CONSENTMGR_SMTP_PORT=str(smtp.port))
        os.environ.update(env)  # the app below reads the same settings as the worker
        from consentmgr import create_app
        from consentmgr.extensions import db
        from consentmgr.mail import send_mail_after_commit

        app = create_app()
        with app.app_context():
            upgrade()
        worker = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--poll", str(args.poll)],
            cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        latencies: list[float] = []
        try:
            rng = random.Random(args.seed)
            with app.app_context():
                send_mail_after_commit("bench@example.org", "warm-up", "warming up\n")
                db.session.commit()
                if arrivals.wait("warm-up", 60) is None:
                    raise SystemExit("the worker sent nothing within 60 s")
                for n in range(args.messages):
                    time.sleep(rng.uniform(0, args.poll))
                    send_mail_after_commit("bench@example.org", f"m{n}", "a message\n")
                    db.session.commit()
                    committed = time.perf_counter()
                    arrived = arrivals.wait(f"m{n}", 30)
                    if arrived is None:
                        raise SystemExit(f"message {n} did not arrive within 30 s")
                    latencies.append((arrived - committed) * 1000)
                db.engine.dispose()
        finally:
            worker.terminate()
            worker.wait(20)
            smtp.stop()
    print(f"{name}: {len(latencies)} messages, worker polling every {args.poll:g} s; "
          f"commit -> arrival: min {min(latencies):.0f}  median {statistics.median(latencies):.0f}"
          f"  p90 {_percentile(latencies, 0.9):.0f}  max {max(latencies):.0f} ms", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=30)
    parser.add_argument("--poll", type=float, default=1.0, help="the worker's idle poll, seconds")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--pg-url", help="a PostgreSQL database the benchmark may wipe")
    parser.add_argument("--no-sqlite", action="store_true")
    on_each_database(run, parser.parse_args())


if __name__ == "__main__":
    main()
