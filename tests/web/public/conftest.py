"""Published policy versions for the public pages' tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import SHIPPED_POLICIES_DIR

SHIPPED = Path(SHIPPED_POLICIES_DIR)


@pytest.fixture
def shipped(publish_policy_files):
    """The shipped versions 2025-01 and 2026-03, in English and German, published."""
    return publish_policy_files()


@pytest.fixture
def with_future_version(publish_policy_files, tmp_path):
    """The shipped versions plus 2027-01, in English only, in effect from 1 January 2027."""
    for path in SHIPPED.glob("*.md"):
        shutil.copy(path, tmp_path / path.name)
    text = (SHIPPED / "2026-03.md").read_text(encoding="utf-8")
    text = text.replace('version: "2026-03"', 'version: "2027-01"', 1)
    text = text.replace("effective_date: 2026-03-01", "effective_date: 2027-01-01", 1)
    (tmp_path / "2027-01.md").write_text(text, encoding="utf-8")
    return publish_policy_files(tmp_path)
