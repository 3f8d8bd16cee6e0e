"""Creators for the jobs tests: a clock the test moves, and workers with their own registry."""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable

import pytest

from consentmgr.jobs.services import Registry, Worker

START = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.timezone.utc)
LEASE = dt.timedelta(minutes=5)
RETRY = dt.timedelta(seconds=30)


class Clock:
    """The time every worker in a test reads; the test moves it."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, delta: dt.timedelta) -> None:
        """Move the time on by ``delta``."""
        self.now += delta


@pytest.fixture
def clock() -> Clock:
    """A clock at a fixed start."""
    return Clock()


@pytest.fixture
def registry() -> Registry:
    """An empty registry for the test to fill."""
    return Registry()


@pytest.fixture
def make_worker(db, clock, registry) -> Callable[..., Worker]:
    """Build a worker on the test's session, clock and registry."""

    def make(name: str = "worker-a", **overrides: Any) -> Worker:
        options: dict[str, Any] = {"registry": registry, "session": db.session, "name": name,
                                   "lease": LEASE, "retry_base": RETRY, "clock": clock}
        options.update(overrides)
        return Worker(**options)

    return make
