"""Policy files for tests: a valid header to start from, and a way to write one to disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


BODY = """
## About this policy

Who we are and what we do with your data.

## Your rights

You can withdraw consent at any time.
"""


def valid_front_matter(**overrides: Any) -> dict[str, Any]:
    """A small but complete, valid policy header; keyword arguments replace top-level fields."""
    data: dict[str, Any] = {
        "version": "v1",
        "effective_date": "2025-01-15",
        "summary": "First version.",
        "controller": {
            "name": "Example GmbH",
            "address": "Street 1, Berlin",
            "email": "privacy@example.test",
        },
        "dpo": {"name": "Dana Officer", "email": "dpo@example.test"},
        "data_categories": [
            {
                "slug": "contact",
                "title": "Contact details",
                "description": "Email address.",
                "retention": "30 days after closing the account.",
                "retention_days": 30,
            },
            {
                "slug": "usage",
                "title": "Usage",
                "description": "Pages visited.",
                "retention": "13 months.",
                "retention_days": 396,
            },
        ],
        "purposes": [
            {
                "slug": "account",
                "title": "Your account",
                "description": "Run your account.",
                "legal_basis": "contract",
                "data_categories": ["contact"],
                "retention": "While open.",
                "recipients": [],
                "transfers": [],
                "sale_or_share": False,
            },
            {
                "slug": "marketing-email",
                "title": "Newsletter",
                "description": "Send offers.",
                "legal_basis": "consent",
                "data_categories": ["contact"],
                "retention": "Until withdrawn.",
                "recipients": ["Mailer Inc."],
                "transfers": [
                    {"recipient": "Mailer Inc.", "country": "United States", "safeguard": "DPF"}
                ],
                "sale_or_share": False,
                "direct_marketing": True,
            },
            {
                "slug": "analytics",
                "title": "Analytics",
                "description": "Count visits.",
                "legal_basis": "legitimate-interest",
                "interest": "Improving the site.",
                "data_categories": ["usage"],
                "retention": "13 months.",
                "recipients": [],
                "transfers": [],
                "sale_or_share": False,
            },
        ],
    }
    data.update(overrides)
    return data


def write_policy(
    directory: Path,
    front_matter: dict[str, Any] | None = None,
    *,
    name: str = "v1.md",
    body: str = BODY,
) -> Path:
    """Write a policy file with ``front_matter`` (default: valid) as its YAML header."""
    header = yaml.safe_dump(
        front_matter or valid_front_matter(), sort_keys=False, allow_unicode=True
    )
    path = directory / name
    path.write_text(f"---\n{header}---\n{body}", encoding="utf-8")
    return path
