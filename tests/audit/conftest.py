"""Fixtures for the audit trail: recording entries, tampering with raw SQL."""

from __future__ import annotations

import pytest

from tests.audit.helpers import recorder, tamperer


@pytest.fixture
def record_entries(db):
    """Creator: ``record_entries(count, **overrides)`` records and commits staff views."""
    return recorder(db)


@pytest.fixture
def tamper(db):
    """``tamper(*statements)``: raw SQL past the append-only triggers (see helpers)."""
    return tamperer(db)
