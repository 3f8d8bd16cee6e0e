"""A policy that closes inactive accounts: the shipped versions plus 2027-01 with ``inactive_after_days``."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import SHIPPED_POLICIES_DIR

#: The test policy 2027-01 closes accounts after two years without activity.
PERIOD = 730


def write_inactivity_policy(directory: Path, *, days: int = PERIOD) -> Path:
    """Copy the shipped policies into ``directory`` and add 2027-01 (from 1 January 2027)."""
    text = (Path(SHIPPED_POLICIES_DIR) / "2026-03.md").read_text(encoding="utf-8")
    text = re.sub(r'^version: "2026-03"$', 'version: "2027-01"', text, count=1, flags=re.MULTILINE)
    text = re.sub(r"^effective_date: 2026-03-01$", "effective_date: 2027-01-01", text, count=1,
                  flags=re.MULTILINE)
    text = text.replace("\ndata_categories:\n",
                        f"\ninactive_after_days: {days}\ndata_categories:\n", 1)
    for source in Path(SHIPPED_POLICIES_DIR).glob("*.md"):
        (directory / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    (directory / "2027-01.md").write_text(text, encoding="utf-8")
    return directory
