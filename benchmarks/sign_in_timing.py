"""Sign-in timing: can the time of ``POST /portal/sign-in`` tell who is a customer?

Issue 12, finding 2: known addresses took 11-65 ms, unknown ones 7-10 ms
(fastest of 5 each), and a 10.8 ms cut-off sorted 20 of 20 addresses. This
benchmark repeats that attack against a real server:

1. a fresh database (SQLite, or PostgreSQL with ``--pg-url``): migrations and
   ``--addresses`` customers (default 20); as many unknown addresses of the
   same shape;
2. gunicorn with the project's ``gunicorn.conf.py`` and one sync worker on
   127.0.0.1, and ``flask worker`` beside it mailing through a local SMTP
   sink (aiosmtpd), as in production: every known address's link is really
   delivered, and every unknown address's rehearsed;
3. ``--rounds`` rounds (default 50): each round posts the sign-in form once
   for every address, known and unknown shuffled together, over a new
   connection each time (a sync worker closes it), timing each answer at the
   client;
4. prints, per address, the fastest of its first 5 answers (the finding's
   measure) and of all its answers; the two distributions (min, median,
   p90) of both; the difference of the medians; and how many of the
   addresses the best single cut-off sorts (40 of 40 tells every address
   apart), beside what it sorts when the labels are shuffled (chance: a
   cut-off picked after the fact always sorts more than half).

Rate limits are raised so that they never trip. Only loopback addresses
are contacted. ``--pg-url`` names a database the benchmark may wipe.

Run::

    .venv/bin/python benchmarks/sign_in_timing.py
    .venv/bin/python benchmarks/sign_in_timing.py \\
        --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from setup_common import bench_environment, reset_postgres  # noqa: E402

NEVER = "100000000 per minute"  # the limiter stays on, but never trips
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def seed(env: dict[str, str], count: int) -> tuple[list[str], list[str]]:
    """Migrate and add ``count`` customers; returns known and unknown addresses."""
    from flask_migrate import upgrade

    from consentmgr import create_app
    from consentmgr.actors import cli_actor
    from consentmgr.customers.services import create_customer
    from consentmgr.extensions import db

    app = create_app({**env, "CONSENTMGR_SMTP_HOST": ""})
    known = [f"customer{n:02d}.{os.urandom(3).hex()}@example.org" for n in range(count)]
    unknown = [f"stranger{n:02d}.{os.urandom(3).hex()}@example.org" for n in range(count)]
    with app.app_context():
        upgrade()
        for address in known:
            create_customer({"email": address, "name": "Bench Customer"}, actor=cli_actor("bench"))
        db.session.commit()
        db.engine.dispose()
    return known, unknown


def start_gunicorn(env: dict[str, str], port: int) -> subprocess.Popen:
    """gunicorn serving ``wsgi:app`` with one sync worker; returns once it answers."""
    gunicorn = Path(sys.executable).with_name("gunicorn")
    command = [str(gunicorn), "-c", str(ROOT / "gunicorn.conf.py"), "--chdir", str(ROOT),
               "-w", "1", "-k", "sync", "-b", f"127.0.0.1:{port}", "--log-level", "warning",
               "wsgi:app"]
    process = subprocess.Popen(command, env={**os.environ, **env},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited with {process.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/portal/sign-in")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit("gunicorn did not answer within 60 s")


def start_worker(env: dict[str, str]) -> subprocess.Popen:
    """``flask worker``: it sends (or rehearses) the mail the sign-in requests queue."""
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker"],
                            cwd=ROOT, env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Browser:
    """One client: a session cookie and its CSRF token, then timed sign-in requests."""

    def __init__(self, port: int) -> None:
        self.port = port
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/portal/sign-in")
        response = connection.getresponse()
        page = response.read().decode()
        cookies = [c.split(";", 1)[0] for c in response.headers.get_all("Set-Cookie") or []]
        self.cookie = "; ".join(cookies)
        match = _CSRF.search(page)
        if not match:
            raise SystemExit("no CSRF token on the sign-in page")
        self.token = match.group(1)

    def ask(self, email: str) -> float:
        """Seconds from sending the form to reading the whole answer (which must be 302)."""
        body = urllib.parse.urlencode({"csrf_token": self.token, "email": email})
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": self.cookie}
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        started = time.perf_counter()
        connection.request("POST", "/portal/sign-in", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        elapsed = time.perf_counter() - started
        connection.close()
        if response.status != 302:
            raise SystemExit(f"POST /portal/sign-in answered {response.status}, expected 302")
        return elapsed


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def best_cut_off(known: list[float], unknown: list[float]) -> tuple[int, float]:
    """How many values one threshold sorts at best (either way round), and that threshold."""
    values = sorted(set(known + unknown))
    best = (0, 0.0)
    for low, high in zip([values[0] - 1] + values, values + [values[-1] + 1]):
        cut = (low + high) / 2
        slower_known = sum(k > cut for k in known) + sum(u <= cut for u in unknown)
        slower_unknown = sum(k <= cut for k in known) + sum(u > cut for u in unknown)
        best = max(best, (max(slower_known, slower_unknown), cut))
    return best


def chance_cut_off(known: list[float], unknown: list[float], trials: int = 1000) -> tuple[int, int]:
    """What the best cut-off sorts when the labels mean nothing: median and 95th percentile.

    The same values with known/unknown labels shuffled: a cut-off chosen
    after the fact always sorts more than half, by chance alone.
    """
    rng = random.Random(0)
    values = known + unknown
    results = []
    for _ in range(trials):
        rng.shuffle(values)
        results.append(best_cut_off(values[: len(known)], values[len(known):])[0])
    results.sort()
    return results[len(results) // 2], results[int(0.95 * (len(results) - 1))]


def _summary(name: str, values: list[float]) -> str:
    return (f"{name:>8}: min {min(values):6.2f}  median {statistics.median(values):6.2f}  "
            f"p90 {_percentile(values, 0.9):6.2f} ms")


def report(label: str, known: dict[str, float], unknown: dict[str, float]) -> dict[str, float]:
    """Print the two distributions of one per-address figure and how well they separate."""
    k, u = list(known.values()), list(unknown.values())
    sorted_count, cut = best_cut_off(k, u)
    difference = statistics.median(k) - statistics.median(u)
    print(f"\n{label} (ms, per address)")
    print(_summary("known", k))
    print(_summary("unknown", u))
    print(f"  median difference (known - unknown): {difference:+.2f} ms")
    chance, chance_95 = chance_cut_off(k, u)
    print(f"  best single cut-off ({cut:.2f} ms) sorts {sorted_count} of {len(k) + len(u)} "
          f"addresses; with shuffled labels: {chance} (median), {chance_95} (95th percentile)")
    return {"difference_ms": difference, "sorted": sorted_count, "total": len(k) + len(u)}


def run(database_url: str, args: argparse.Namespace) -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    sink = Controller(Sink(), hostname="127.0.0.1", port=_free_port())
    sink.start()
    with tempfile.TemporaryDirectory() as instance:
        env = bench_environment(database_url, instance, CONSENTMGR_SMTP_HOST="127.0.0.1",
                                CONSENTMGR_SMTP_PORT=str(sink.port),
                                CONSENTMGR_PORTAL_SIGN_IN_LIMIT_PER_ADDRESS=NEVER,
                                CONSENTMGR_PORTAL_SIGN_IN_LIMIT_PER_CLIENT=NEVER)
        known, unknown = seed(env, args.addresses)
        port = _free_port()
        server = start_gunicorn(env, port)
        worker = start_worker(env)
        try:
            browser = Browser(port)
            for address in known[:3] + unknown[:3]:  # warm up the worker
                browser.ask(address)
            samples: dict[str, list[float]] = {a: [] for a in known + unknown}
            order = known + unknown
            rng = random.Random(args.seed)
            started = time.perf_counter()
            for _ in range(args.rounds):
                rng.shuffle(order)
                for address in order:
                    samples[address].append(browser.ask(address) * 1000)
            took = time.perf_counter() - started
        finally:
            server.terminate()
            worker.terminate()
            server.wait(10)
            worker.wait(20)
            sink.stop()
    print(f"  {len(order) * args.rounds} requests in {took:.1f} s")
    first5 = {a: min(s[:5]) for a, s in samples.items()}
    fastest = {a: min(s) for a, s in samples.items()}
    print("\nper address: fastest of the first 5 / fastest of all, ms")
    for group, addresses in (("known", known), ("unknown", unknown)):
        cells = [f"{first5[a]:.2f}/{fastest[a]:.2f}" for a in addresses]
        print(f"  {group:>7}: " + "  ".join(cells))
    report("fastest of 5 (the finding's measure)",
           {a: first5[a] for a in known}, {a: first5[a] for a in unknown})
    report(f"fastest of {args.rounds}",
           {a: fastest[a] for a in known}, {a: fastest[a] for a in unknown})
    every_known = [t for a in known for t in samples[a]]
    every_unknown = [t for a in unknown for t in samples[a]]
    print("\nevery answer (ms)")
    print(_summary("known", every_known))
    print(_summary("unknown", every_unknown))
    print(f"  median difference (known - unknown): "
          f"{statistics.median(every_known) - statistics.median(every_unknown):+.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addresses", type=int, default=20, help="known (and unknown) addresses")
    parser.add_argument("--rounds", type=int, default=50, help="requests per address")
    parser.add_argument("--seed", type=int, default=12, help="shuffle seed")
    parser.add_argument("--pg-url", help="a PostgreSQL database the benchmark may wipe")
    args = parser.parse_args()
    if args.rounds < 5:
        parser.error("--rounds must be at least 5 (the fastest of 5 is the finding's measure)")
    with tempfile.TemporaryDirectory() as scratch:
        print("SQLite", flush=True)
        run(f"sqlite:///{Path(scratch) / 'timing.db'}", args)
    if args.pg_url:
        print("\nPostgreSQL", flush=True)
        reset_postgres(args.pg_url)
        run(args.pg_url, args)


if __name__ == "__main__":
    main()
