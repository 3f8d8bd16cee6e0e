"""API load: the consent check against the framework floor, under gunicorn, with wrk.

For each database (SQLite, and PostgreSQL when ``--pg-url`` is given) this

1. builds a fresh database: migrations, the shipped privacy policy, N demo
   customers (default 10,000; direct service calls, one commit per 500)
   with consent to ``marketing-email`` recorded for every fourth, and an API
   client with the ``consent:read`` scope;
2. starts gunicorn with the project's ``gunicorn.conf.py`` and 2 workers on
   127.0.0.1 (a free port);
3. runs wrk with 32 connections for 15 s against
   (a) ``GET /api/v1/ping`` -- the same app's bare endpoint, ``{"ok": true}``,
       no authentication, no database: the framework floor -- and
   (b) ``GET /api/v1/customers/<id>/consents/marketing-email`` with the real
       key, cycling over 2,000 different customers;
4. prints requests/s, p50 and p99 for both, the ratio b/a and the share of
   CPU the hypervisor stole meanwhile, ``--runs`` times (default 3, (a) and
   (b) alternating), and judges the median run.

Targets (issue #6): b/a >= 0.7 and p99 <= 25 ms for (b).

Run::

    apt-get install -y wrk        # once
    .venv/bin/python benchmarks/api_load.py
    .venv/bin/python benchmarks/api_load.py --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/bench

``--pg-url`` names a database the benchmark may wipe: its public schema is
dropped and recreated. Only loopback addresses are contacted.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from setup_common import bench_environment, reset_postgres  # noqa: E402

PURPOSE = "marketing-email"
ALL_REQUESTS = "100000000 per minute"  # the limiter stays on, but never trips


def bench_app():
    """The app gunicorn serves: configured only from ``CONSENTMGR_*`` variables."""
    from consentmgr import create_app

    config = {k: v for k, v in os.environ.items() if k.startswith("CONSENTMGR_")}
    config["API_RATE_LIMIT"] = os.environ.get("BENCH_API_RATE_LIMIT", ALL_REQUESTS)
    return create_app(config)


@dataclass(frozen=True)
class WrkResult:
    """What wrk measured."""

    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


def seed(env: dict[str, str], customers: int) -> tuple[str, list[str]]:
    """Migrate and fill the database; returns the API key and some customer ids."""
    from flask_migrate import upgrade

    from consentmgr import create_app
    from consentmgr.actors import cli_actor
    from consentmgr.apiclients.services import create_client
    from consentmgr.consent.services import grant_consent
    from consentmgr.customers.services import create_customer
    from consentmgr.extensions import db
    from consentmgr.policies.services import publish_policies

    actor = cli_actor("benchmark")
    app = create_app(dict(env))
    ids: list[str] = []
    started = time.perf_counter()
    with app.app_context():
        upgrade()
        publish_policies(ROOT / "policies", actor=actor)
        db.session.commit()
        for index in range(customers):
            customer = create_customer({"email": f"bench-{index}@example.org",
                                        "name": f"Bench Customer {index}"}, actor=actor)
            if index % 4 == 0:
                grant_consent(customer, PURPOSE, actor=actor, channel="import")
            ids.append(str(customer.id))
            if index % 500 == 499:
                db.session.commit()
                db.session.expunge_all()
        _, key = create_client("benchmark", ["consent:read"], actor=actor)
        db.session.commit()
        db.engine.dispose()
    print(f"  seeded {customers} customers in {time.perf_counter() - started:.1f} s", flush=True)
    return key, ids[:: max(1, len(ids) // 2000)][:2000]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(env: dict[str, str], port: int, workers: int, worker_class: str,
                   threads: int, app_spec: str = "api_load:bench_app()") -> subprocess.Popen:
    """gunicorn serving :func:`bench_app` on 127.0.0.1; returns once it answers."""
    gunicorn = Path(sys.executable).with_name("gunicorn")
    command = [str(gunicorn), "-c", str(ROOT / "gunicorn.conf.py"),
               "--chdir", str(ROOT), "--pythonpath", str(ROOT / "benchmarks"),
               "-w", str(workers), "-k", worker_class, "--threads", str(threads),
               "-b", f"127.0.0.1:{port}", "--log-level", "warning", app_spec]
    process = subprocess.Popen(command, env={**os.environ, **env})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/ping", timeout=1) as r:
                if r.status == 200:
                    return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit("gunicorn did not answer within 60 s")


def _milliseconds(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_wrk(url: str, *, connections: int, duration: int, threads: int,
            headers: dict[str, str] | None = None, paths: list[str] | None = None) -> WrkResult:
    """wrk with ``--latency``; ``paths`` are cycled through by a Lua script."""
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency",
               "--timeout", "5s"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    script = None
    if paths:
        script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
        # Requests are formatted once, in init: per request wrk only picks the
        # next one, so the load generator takes as little CPU from the server
        # for (b) as it does for (a).
        script.write("local paths = {\n" + ",\n".join(f'  "{p}"' for p in paths) + "\n}\n"
                     "local requests = {}\n"
                     "local i = 0\n"
                     "init = function(args)\n"
                     "  for n, path in ipairs(paths) do requests[n] = wrk.format(nil, path) end\n"
                     "end\n"
                     "request = function()\n"
                     "  i = i % #requests + 1\n"
                     "  return requests[i]\n"
                     "end\n")
        script.close()
        command += ["-s", script.name]
    try:
        output = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    finally:
        if script is not None:
            os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50 = _milliseconds(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))
    p99 = _milliseconds(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))
    total = int(re.search(r"(\d+) requests in", output).group(1))
    errors = 0
    for pattern in (r"Non-2xx or 3xx responses: (\d+)", r"Socket errors: .*?timeout (\d+)"):
        found = re.search(pattern, output)
        errors += int(found.group(1)) if found else 0
    return WrkResult(rps, p50, p99, total, errors)


def _steal_jiffies() -> tuple[int, int]:
    """CPU time the hypervisor gave to others (steal) and the total, from /proc/stat."""
    try:
        with open("/proc/stat") as stat:
            values = [int(v) for v in stat.readline().split()[1:]]
    except OSError:
        return 0, 0
    return values[7] if len(values) > 7 else 0, sum(values)


def measured(url: str, **kwargs) -> tuple[WrkResult, float]:
    """One wrk run and the share of CPU stolen by the hypervisor meanwhile (in %)."""
    steal0, total0 = _steal_jiffies()
    result = run_wrk(url, **kwargs)
    steal1, total1 = _steal_jiffies()
    return result, 100.0 * (steal1 - steal0) / max(1, total1 - total0)


def benchmark(name: str, database_url: str, args: argparse.Namespace) -> list[dict[str, WrkResult]]:
    """Seed, serve, measure one database ``args.runs`` times (a and b alternating)."""
    print(f"\n== {name} ==", flush=True)
    instance = Path(tempfile.mkdtemp(prefix="consentmgr-bench-"))
    env = bench_environment(database_url, instance)
    runs = []
    try:
        key, ids = seed(env, args.customers)
        port = _free_port()
        server = start_gunicorn(env, port, args.workers, args.worker_class, args.threads, args.app)
        try:
            base = f"http://127.0.0.1:{port}"
            common = {"connections": args.connections, "duration": args.duration,
                      "threads": args.wrk_threads}
            auth = {"Authorization": f"Bearer {key}"}
            paths = [f"/api/v1/customers/{i}/consents/{PURPOSE}" for i in ids]
            # Warm-up: imports, connection pools, caches, prepared statements.
            run_wrk(f"{base}/api/v1/ping", connections=args.connections, duration=2,
                    threads=args.wrk_threads)
            run_wrk(base + paths[0], connections=args.connections, duration=2,
                    threads=args.wrk_threads, headers=auth, paths=paths)
            for _ in range(args.runs):
                floor, floor_steal = measured(f"{base}/api/v1/ping", **common)
                check, check_steal = measured(base + paths[0], headers=auth, paths=paths, **common)
                runs.append({"ping": floor, "check": check,
                             "steal": max(floor_steal, check_steal)})
                print("  " + report(name, runs[-1]), flush=True)
        finally:
            server.terminate()
            server.wait(timeout=30)
    finally:
        shutil.rmtree(instance, ignore_errors=True)
    return runs


def report(name: str, results: dict) -> str:
    """One run as a Markdown table row."""
    floor, check = results["ping"], results["check"]
    ratio = check.requests_per_second / floor.requests_per_second
    errors = floor.errors + check.errors
    return (f"| {name} | {floor.requests_per_second:.0f} | {floor.p50_ms:.2f} | {floor.p99_ms:.2f} | "
            f"{check.requests_per_second:.0f} | {check.p50_ms:.2f} | {check.p99_ms:.2f} | "
            f"{ratio:.2f} | {results['steal']:.1f}% |" + (f" {errors} errors" if errors else ""))


def summary(name: str, runs: list[dict]) -> None:
    """The median run's figures and the verdict."""
    ratios = sorted(r["check"].requests_per_second / r["ping"].requests_per_second for r in runs)
    p99s = sorted(r["check"].p99_ms for r in runs)
    ratio, p99 = statistics.median(ratios), statistics.median(p99s)
    verdict = "met" if ratio >= 0.7 and p99 <= 25 else "NOT met"
    print(f"{name}: median of {len(runs)} runs: b/a = {ratio:.2f}, check p99 = {p99:.2f} ms "
          f"(targets b/a >= 0.7, p99 <= 25 ms: {verdict})")


def main() -> None:
    """Parse options, run every database, print a Markdown table for benchmarks/README.md."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--duration", type=int, default=15, help="seconds per wrk run")
    parser.add_argument("--runs", type=int, default=3,
                        help="measurements of (a) then (b) per database; the median is judged")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--worker-class", default="sync", help="gunicorn worker class")
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--pg-url", help="a PostgreSQL database to WIPE and use")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--app", default="api_load:bench_app()",
                        help="gunicorn app spec, for experiments (default: the real app)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")

    results: dict[str, list[dict]] = {}
    if not args.skip_sqlite:
        directory = Path(tempfile.mkdtemp(prefix="consentmgr-bench-db-"))
        try:
            results["SQLite"] = benchmark("SQLite", f"sqlite:///{directory / 'bench.db'}", args)
        finally:
            shutil.rmtree(directory, ignore_errors=True)
    if args.pg_url:
        reset_postgres(args.pg_url)
        results["PostgreSQL"] = benchmark("PostgreSQL", args.pg_url, args)
    print("\n| database | (a) ping req/s | p50 ms | p99 ms | (b) check req/s | p50 ms | p99 ms "
          "| b/a | CPU steal |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, runs in results.items():
        for run in runs:
            print(report(name, run))
    print(f"(gunicorn -c gunicorn.conf.py -w {args.workers} -k {args.worker_class} "
          f"--threads {args.threads}; wrk -t{args.wrk_threads} -c{args.connections} "
          f"-d{args.duration}s; {args.customers} customers)\n")
    for name, runs in results.items():
        summary(name, runs)


if __name__ == "__main__":
    main()
