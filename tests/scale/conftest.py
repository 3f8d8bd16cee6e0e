"""Fixtures for the scale tests: a real streaming replica."""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.scale.replication import (
    ReplicaPair,
    ReplicationUnavailable,
    start_replica_pair,
)


@pytest.fixture(scope="session")
def replica_pair() -> Iterator[ReplicaPair]:
    """A PostgreSQL primary and a streaming replica of it, for the whole session."""
    try:
        pair = start_replica_pair()
    except ReplicationUnavailable as exc:
        pytest.skip(f"cannot start a PostgreSQL replica here: {exc}")
    try:
        yield pair
    finally:
        pair.stop()
