"""Fixtures for the audit trail: recording entries, tampering with raw SQL."""

from __future__ import annotations

import pytest

from tests.audit.helpers import recorder, tamperer


def pytest_collection_modifyitems(config, items):
    """Deselect the SQLite runs of tests marked with ``helpers.postgresql_only``."""
    keep, drop = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if getattr(getattr(item, "function", None), "postgresql_only", False) and (
            params.get("database_url") != "postgresql"
        ):
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture
def record_entries(db):
    """Creator: ``record_entries(count, **overrides)`` records and commits staff views."""
    return recorder(db)


@pytest.fixture
def tamper(db):
    """``tamper(*statements)``: raw SQL past the append-only triggers (see helpers)."""
    return tamperer(db)
