"""A policy whose marketing consent lasts a year, for the tests of consent that expires."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from tests.policies.policy_files import valid_front_matter, write_policy

#: Consent to this purpose lasts TERM; SURVEYS (also consent) lasts until withdrawn.
EXPIRING = "marketing-email"
SURVEYS = "surveys"
TERM = dt.timedelta(days=365)


def expiring_front_matter(valid_for_days: Any = 365, **overrides: Any) -> dict[str, Any]:
    """The tests' valid policy header, its marketing purpose given a term of ``valid_for_days``."""
    data = valid_front_matter(**overrides)
    marketing = next(p for p in data["purposes"] if p["slug"] == EXPIRING)
    if valid_for_days is not None:
        marketing["valid_for_days"] = valid_for_days
    data["purposes"].append({
        "slug": SURVEYS, "title": "Surveys", "description": "Ask what you think.",
        "legal_basis": "consent", "data_categories": ["contact"], "retention": "Until withdrawn.",
        "recipients": [], "transfers": [], "sale_or_share": False,
    })
    return data


def write_expiring_policy(directory: Path, **overrides: Any) -> Path:
    """Write the policy (version v1, in effect since 2025-01-15) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    write_policy(directory, expiring_front_matter(**overrides))
    return directory
