"""Two app nodes and two workers on one PostgreSQL and one Redis, as in production.

Real processes: two gunicorn masters on their own ports and two ``flask
worker`` processes, all started from the command line with the same
settings, against a database of their own. Writes go through both nodes;
rate limits are counted once across them (Redis); exactly one worker
sequences the audit trail, and when it is killed with SIGKILL the other
takes over; the chain then verifies with every sequence number once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
import requests
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade

from consentmgr import create_app
from consentmgr.actors import Actor
from consentmgr.apiclients.services import create_client
from consentmgr.audit.leader import sequencer_holders
from consentmgr.audit.services import verify_chain
from consentmgr.config import PROJECT_ROOT
from consentmgr.extensions import db
from consentmgr.policies.services import publish_policies
from tests.conftest import base_config, postgresql_only
from tests.fixtures.smtp import free_port

pytestmark = postgresql_only

REDIS_URL = os.environ.get("CONSENTMGR_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
RATE_LIMIT = 80  # per minute and key, across every node


@dataclass
class Cluster:
    app: Flask  # the same settings in this process: set-up and checks without a CLI start-up
    nodes: list[str]
    workers: dict[str, subprocess.Popen] = field(default_factory=dict)
    key: str = ""
    engine: sa.Engine | None = None

    def sequencer(self) -> str | None:
        """The name of the worker holding the sequencer lock, from PostgreSQL's own tables."""
        with self.engine.connect() as conn:
            holders = sequencer_holders(conn)
        assert len(holders) <= 1, holders
        return holders[0][1] if holders else None

    def scalar(self, statement: str):
        with self.engine.connect() as conn:
            return conn.execute(sa.text(statement)).scalar()


def _wait(condition, timeout: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
    return time.monotonic() - started


def _up(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def _stop(processes: list[subprocess.Popen]) -> None:
    """SIGTERM to all at once (they shut down in parallel), SIGKILL to any that hang."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture(scope="module")
def cluster(database_url: str, tmp_path_factory) -> Iterator[Cluster]:
    url = sa.engine.make_url(database_url)
    url = url.set(database=f"{url.database}_nodes")
    server = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{url.database}"'))
    redis.Redis.from_url(REDIS_URL).flushdb()
    instance = tmp_path_factory.mktemp("nodes")
    config = base_config(url.render_as_string(hide_password=False), str(instance))
    config.pop("TESTING")
    env = {**os.environ, **config, "CONSENTMGR_RATELIMIT_STORAGE_URL": REDIS_URL,
           "CONSENTMGR_API_RATE_LIMIT": f"{RATE_LIMIT} per minute",
           "CONSENTMGR_WORKER_POLL_SECONDS": "0.2", "PYTHONUNBUFFERED": "1"}
    ports = [free_port(), free_port()]
    nodes = [f"http://127.0.0.1:{port}" for port in ports]
    cluster = Cluster(app=create_app(config), nodes=nodes, engine=sa.create_engine(url))
    processes: list[subprocess.Popen] = []
    try:
        with cluster.app.app_context():
            upgrade()
            publish_policies(PROJECT_ROOT / "policies", actor=Actor("system", "test"))
            _, cluster.key = create_client(
                "nodes-test", "customers:write,consent:write,consent:read,events:read",
                actor=Actor("system", "test"))
            db.session.commit()
        log_dir = Path(instance)
        for port in ports:
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}",
                 "wsgi:app"], cwd=PROJECT_ROOT, env=env,
                stdout=open(log_dir / f"web-{port}.log", "w"), stderr=subprocess.STDOUT))
        for name in ("worker-a", "worker-b"):
            worker = subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--name", name],
                cwd=PROJECT_ROOT, env=env, stdout=open(log_dir / f"{name}.log", "w"),
                stderr=subprocess.STDOUT)
            cluster.workers[name] = worker
            processes.append(worker)
        for node in nodes:
            _wait(lambda node=node: _up(node), 30, f"{node} to answer")
        _wait(lambda: cluster.sequencer() is not None, 30, "a worker to take the sequencer role")
        yield cluster
    finally:
        _stop(processes)
        cluster.engine.dispose()
        with cluster.app.app_context():
            db.engine.dispose()
        with server.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        server.dispose()


def _write_through_both_nodes(cluster: Cluster, customers: int) -> list[str]:
    headers = {"Authorization": f"Bearer {cluster.key}"}
    ids = []
    for number in range(customers):
        node = cluster.nodes[number % 2]
        created = requests.post(f"{node}/api/v1/customers", headers=headers, timeout=10, json={
            "email": f"node-{number}-{time.monotonic_ns()}@example.org", "name": "Node Test"})
        assert created.status_code == 201, created.text
        customer = created.json()["id"]
        ids.append(customer)
        other = cluster.nodes[(number + 1) % 2]
        for node_url, action in ((node, "granted"), (other, "withdrawn")):
            answer = requests.post(f"{node_url}/api/v1/customers/{customer}/consents",
                                   headers=headers, timeout=10,
                                   json={"purpose": "marketing-email", "action": action,
                                         "channel": "api"})
            assert answer.status_code == 201, answer.text
    return ids


def _chain_is_whole(cluster: Cluster) -> None:
    _wait(lambda: cluster.scalar("SELECT count(*) FROM audit_entries WHERE sequence IS NULL") == 0,
          10, "every entry to be sequenced")
    total = cluster.scalar("SELECT count(*) FROM audit_entries")
    assert cluster.scalar("SELECT count(DISTINCT sequence) FROM audit_entries") == total
    assert cluster.scalar("SELECT min(sequence) FROM audit_entries") == 1
    assert cluster.scalar("SELECT max(sequence) FROM audit_entries") == total
    with cluster.app.app_context():
        verified = verify_chain()
    assert verified.ok and verified.checked == total, verified.summary()


def test_writes_through_two_nodes_are_sequenced_by_exactly_one_worker(cluster):
    leader = cluster.sequencer()
    assert leader in cluster.workers
    customers = _write_through_both_nodes(cluster, 10)
    consent_events = cluster.scalar("SELECT count(*) FROM consent_events")
    assert consent_events == 2 * len(customers)
    _chain_is_whole(cluster)
    assert cluster.sequencer() == leader  # still the same one: no flapping


def test_rate_limits_are_counted_once_across_the_nodes(cluster):
    headers = {"Authorization": f"Bearer {cluster.key}"}
    redis.Redis.from_url(REDIS_URL).flushdb()
    statuses = [requests.get(f"{cluster.nodes[n % 2]}/api/v1/events", headers=headers,
                             timeout=10).status_code for n in range(RATE_LIMIT + 20)]
    # Each node alone saw 50 requests, under the limit: only a shared count refuses any.
    assert statuses.count(200) == RATE_LIMIT
    assert statuses.count(429) == 20


def test_the_other_worker_takes_over_when_the_sequencer_is_killed(cluster):
    redis.Redis.from_url(REDIS_URL).flushdb()
    leader = cluster.sequencer()
    victim = cluster.workers[leader]
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    survivor = next(name for name in cluster.workers if name != leader)
    took = _wait(lambda: cluster.sequencer() == survivor, 10, f"{survivor} to take over")
    assert took < 5
    _write_through_both_nodes(cluster, 6)
    _chain_is_whole(cluster)
    assert cluster.sequencer() == survivor
