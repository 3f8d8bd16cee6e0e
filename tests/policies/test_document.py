"""The policy's value objects: notice hashes, and their data as published and read back."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import pytest

from consentmgr.policies.document import (
    PolicyDocument,
    PolicyValidationError,
    Purpose,
    Transfer,
)
from consentmgr.policies.loader import parse_policy_file
from tests.policies.policy_files import valid_front_matter, write_policy

__all__ = ["valid_front_matter", "write_policy"]  # older imports of the shared helpers


def test_to_dict_is_json_ready_and_carries_hashes(tmp_path):
    document = parse_policy_file(write_policy(tmp_path))

    data = json.loads(json.dumps(document.to_dict()))

    assert data["effective_date"] == "2025-01-15"
    assert data["sha256"] == document.sha256
    assert data["purposes"][1]["transfers"] == [
        {"recipient": "Mailer Inc.", "country": "United States", "safeguard": "DPF"}
    ]
    assert data["purposes"][1]["notice_hash"] == document.purposes[1].notice_hash
    assert "body" not in document.to_dict(include_body=False)


# --- notice hash -----------------------------------------------------------------


def make_purpose(**overrides: Any) -> Purpose:
    fields: dict[str, Any] = {
        "slug": "marketing-email",
        "title": "Newsletter",
        "description": "Send offers.",
        "legal_basis": "consent",
        "data_categories": ("contact",),
        "retention": "Until withdrawn.",
        "recipients": ("Mailer Inc.",),
        "transfers": (Transfer("Mailer Inc.", "United States", "DPF"),),
    }
    fields.update(overrides)
    return Purpose(**fields)


def test_notice_hash_is_sha256_of_the_canonical_json_of_the_notice():
    purpose = make_purpose()
    canonical = json.dumps(
        purpose.notice_fields(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )

    assert purpose.notice_hash == hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("slug", "marketing-post"),
        ("title", "Our newsletter"),
        ("description", "Send offers weekly."),
        ("legal_basis", "legitimate-interest"),
        ("interest", "Telling customers about offers."),
        ("data_categories", ("contact", "usage")),
        ("retention", "Until withdrawn, then 30 days."),
        ("recipients", ("Mailer Inc.", "Printer Ltd")),
        ("transfers", (Transfer("Mailer Inc.", "United States", "Standard Contractual Clauses"),)),
        ("sale_or_share", True),
        ("direct_marketing", True),
    ],
)
def test_notice_hash_changes_when_a_customer_facing_field_changes(field, value):
    purpose = make_purpose()

    assert dataclasses.replace(purpose, **{field: value}).notice_hash != purpose.notice_hash


# --- read back from the published data ---------------------------------------------


def test_a_document_rebuilt_from_its_published_data_equals_the_parsed_one(tmp_path):
    document = parse_policy_file(write_policy(tmp_path))

    rebuilt = PolicyDocument.from_dict(
        document.to_dict(include_body=True), text=document.text, source=document.source
    )

    assert rebuilt == document
    assert [p.notice_hash for p in rebuilt.purposes] == [p.notice_hash for p in document.purposes]


def test_a_purpose_rebuilt_from_its_data_derives_the_same_notice_hash():
    purpose = make_purpose(interest=None)

    assert Purpose.from_dict(json.loads(json.dumps(purpose.to_dict()))) == purpose


def test_validation_error_lists_every_problem_under_a_count():
    error = PolicyValidationError(["a.md: summary: must not be empty", "b.md: body: empty"])

    assert error.problems == ("a.md: summary: must not be empty", "b.md: body: empty")
    assert str(error).startswith("2 problems in the privacy-policy files:\n  - a.md: summary")
