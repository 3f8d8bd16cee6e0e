"""Reading and validating privacy-policy files: every problem names its file and field."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from consentmgr.policies.document import PolicyValidationError, Transfer
from consentmgr.policies.loader import load_policy_dir, parse_policy_file
from tests.policies.policy_files import BODY, valid_front_matter, write_policy

SHIPPED_POLICIES = Path(__file__).resolve().parents[2] / "policies"


def problems_in(path: Path) -> tuple[str, ...]:
    with pytest.raises(PolicyValidationError) as caught:
        parse_policy_file(path)
    return caught.value.problems


def rewrite(path: Path, old: str, new: str) -> None:
    """Edit the YAML as an author would, for syntax that safe_dump never writes."""
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def with_purpose_field(index: int, key: str, value: Any) -> dict[str, Any]:
    data = valid_front_matter()
    data["purposes"][index][key] = value
    return data


def without_purpose_field(index: int, key: str) -> dict[str, Any]:
    data = valid_front_matter()
    del data["purposes"][index][key]
    return data


# --- the shipped policy --------------------------------------------------------


def test_shipped_policy_directory_loads_cleanly():
    documents = load_policy_dir(SHIPPED_POLICIES)

    assert [d.version for d in documents] == ["2025-01", "2026-03"]


def test_shipped_versions_are_effective_in_the_past_oldest_first():
    first, second = load_policy_dir(SHIPPED_POLICIES)

    assert first.effective_date == date(2025, 1, 15)
    assert first.effective_date < second.effective_date < date(2026, 11, 23)


def test_shipped_purposes_use_every_legal_basis_and_state_each_legitimate_interest():
    latest = load_policy_dir(SHIPPED_POLICIES)[-1]

    assert {p.legal_basis for p in latest.purposes} == {
        "consent",
        "contract",
        "legal-obligation",
        "legitimate-interest",
    }
    assert all(p.interest for p in latest.purposes if p.legal_basis == "legitimate-interest")


# --- what a parsed document holds ----------------------------------------------


def test_sha256_is_the_digest_of_the_file_bytes(tmp_path):
    path = write_policy(tmp_path)

    document = parse_policy_file(path)

    assert document.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_text_is_the_file_byte_for_byte_even_with_windows_line_endings(tmp_path):
    path = tmp_path / "v1.md"
    unix = write_policy(tmp_path).read_text(encoding="utf-8")
    path.write_bytes(unix.replace("\n", "\r\n").encode("utf-8"))

    document = parse_policy_file(path)

    assert document.text.encode("utf-8") == path.read_bytes()
    assert document.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_body_is_the_markdown_after_the_front_matter(tmp_path):
    document = parse_policy_file(write_policy(tmp_path))

    assert document.body == BODY


def test_fields_are_parsed_into_typed_values(tmp_path):
    document = parse_policy_file(write_policy(tmp_path))

    newsletter = document.purpose("marketing-email")
    assert document.effective_date == date(2025, 1, 15)
    assert document.controller.email == "privacy@example.test"
    assert newsletter.direct_marketing is True
    assert newsletter.transfers == (Transfer("Mailer Inc.", "United States", "DPF"),)
    assert document.purpose("account").direct_marketing is False
    assert document.data_category("usage").retention_days == 396


def test_effective_date_may_be_an_unquoted_yaml_date(tmp_path):
    path = write_policy(tmp_path)
    rewrite(path, "effective_date: '2025-01-15'", "effective_date: 2025-01-15")

    assert parse_policy_file(path).effective_date == date(2025, 1, 15)


def test_notice_hash_is_the_same_for_the_same_notice_however_the_yaml_is_written(tmp_path):
    plain = parse_policy_file(write_policy(tmp_path, name="a.md"))
    reordered = valid_front_matter()
    reordered["purposes"][1] = dict(reversed(list(reordered["purposes"][1].items())))
    reordered["purposes"][1]["description"] = "  Send offers.\n"  # as a YAML block scalar leaves it
    rewritten = parse_policy_file(write_policy(tmp_path, reordered, name="b.md"))

    assert rewritten.purposes[1].notice_hash == plain.purposes[1].notice_hash


# --- every problem names its file and field ----------------------------------------


def test_unknown_legal_basis_names_file_and_field(tmp_path):
    path = write_policy(
        tmp_path, with_purpose_field(2, "legal_basis", "consnet"), name="2026-03.md"
    )

    assert problems_in(path) == (
        "2026-03.md: purposes[2].legal_basis: unknown legal basis 'consnet' "
        "(expected one of consent, contract, legal-obligation, legitimate-interest)",
    )


def test_missing_required_field_names_file_and_field(tmp_path):
    path = write_policy(tmp_path, without_purpose_field(0, "description"))

    assert problems_in(path) == ("v1.md: purposes[0].description: missing required field",)


def test_missing_top_level_field_names_the_field(tmp_path):
    data = valid_front_matter()
    del data["dpo"]

    assert problems_in(write_policy(tmp_path, data)) == ("v1.md: dpo: missing required field",)


def test_empty_field_is_reported(tmp_path):
    path = write_policy(tmp_path, with_purpose_field(0, "title", "   "))

    assert problems_in(path) == ("v1.md: purposes[0].title: must not be empty",)


def test_legitimate_interest_without_stated_interest_is_rejected(tmp_path):
    path = write_policy(tmp_path, without_purpose_field(2, "interest"))

    (problem,) = problems_in(path)
    assert problem.startswith("v1.md: purposes[2].interest: missing")
    assert "legitimate-interest" in problem


def test_interest_is_rejected_on_a_purpose_with_another_legal_basis(tmp_path):
    path = write_policy(tmp_path, with_purpose_field(0, "interest", "Because we want to."))

    assert problems_in(path) == (
        "v1.md: purposes[0].interest: only allowed when legal_basis is legitimate-interest",
    )


def test_duplicate_purpose_slug_is_rejected(tmp_path):
    path = write_policy(tmp_path, with_purpose_field(2, "slug", "account"))

    assert problems_in(path) == (
        "v1.md: purposes[2].slug: duplicate purpose slug 'account' (also purposes[0])",
    )


def test_duplicate_data_category_slug_is_rejected(tmp_path):
    data = valid_front_matter()
    data["data_categories"][1]["slug"] = "contact"
    data["purposes"][2]["data_categories"] = ["contact"]

    assert problems_in(write_policy(tmp_path, data)) == (
        "v1.md: data_categories[1].slug: "
        "duplicate data category 'contact' (also data_categories[0])",
    )


def test_unknown_data_category_is_rejected(tmp_path):
    path = write_policy(tmp_path, with_purpose_field(1, "data_categories", ["contact", "browsing"]))

    assert problems_in(path) == (
        "v1.md: purposes[1].data_categories[1]: "
        "unknown data category 'browsing' (declared: contact, usage)",
    )


@pytest.mark.parametrize("bad_date", ["2025-02-30", "15.01.2025", "soon"])
def test_bad_effective_date_is_rejected(tmp_path, bad_date):
    path = write_policy(tmp_path, valid_front_matter(effective_date=bad_date))

    (problem,) = problems_in(path)
    assert problem.startswith("v1.md: effective_date: ")
    assert bad_date in problem


def test_sale_or_share_must_be_a_boolean(tmp_path):
    path = write_policy(tmp_path, with_purpose_field(0, "sale_or_share", "no"))

    assert problems_in(path) == (
        "v1.md: purposes[0].sale_or_share: expected true or false, got text 'no'",
    )


def test_yaml_1_1_yes_is_not_read_as_a_boolean(tmp_path):
    path = write_policy(tmp_path)
    rewrite(path, "direct_marketing: true", "direct_marketing: yes")

    assert problems_in(path) == (
        "v1.md: purposes[1].direct_marketing: expected true or false, got text 'yes'",
    )


def test_country_code_no_stays_text_rather_than_becoming_false(tmp_path):
    path = write_policy(tmp_path)
    rewrite(path, "country: United States", "country: NO")

    assert parse_policy_file(path).purposes[1].transfers[0].country == "NO"


def test_version_label_must_be_text(tmp_path):
    path = write_policy(tmp_path)
    rewrite(path, "version: v1", "version: 2025")

    assert problems_in(path) == (
        "v1.md: version: expected text, got the number 2025 (put it in quotes)",
    )


@pytest.mark.parametrize("days", [0, -5, "30", 1.5, True])
def test_retention_days_must_be_a_positive_whole_number(tmp_path, days):
    data = valid_front_matter()
    data["data_categories"][0]["retention_days"] = days

    (problem,) = problems_in(write_policy(tmp_path, data))
    assert problem.startswith("v1.md: data_categories[0].retention_days: expected a whole number")


def test_transfer_without_safeguard_is_rejected(tmp_path):
    data = valid_front_matter()
    del data["purposes"][1]["transfers"][0]["safeguard"]

    assert problems_in(write_policy(tmp_path, data)) == (
        "v1.md: purposes[1].transfers[0].safeguard: missing required field",
    )


def test_misspelt_field_is_reported_instead_of_ignored(tmp_path):
    data = valid_front_matter()
    data["purposes"][1]["direct_marketting"] = True

    (problem,) = problems_in(write_policy(tmp_path, data))
    assert problem.startswith("v1.md: purposes[1].direct_marketting: unknown field")


def test_file_without_front_matter_is_rejected(tmp_path):
    path = tmp_path / "v1.md"
    path.write_text(BODY, encoding="utf-8")

    (problem,) = problems_in(path)
    assert problem.startswith("v1.md: front matter: missing")


def test_invalid_yaml_is_reported_with_its_line(tmp_path):
    path = tmp_path / "v1.md"
    path.write_text("---\nversion: v1\nsummary: [unclosed\n---\n" + BODY, encoding="utf-8")

    (problem,) = problems_in(path)
    assert problem.startswith("v1.md: front matter: invalid YAML at line ")


def test_duplicate_yaml_key_is_rejected(tmp_path):
    path = write_policy(tmp_path)
    rewrite(path, "summary: First version.\n", "summary: First version.\nsummary: Again.\n")

    (problem,) = problems_in(path)
    assert problem.startswith("v1.md: front matter: invalid YAML at line ")
    assert "duplicate key 'summary'" in problem


def test_front_matter_that_is_not_a_mapping_is_rejected(tmp_path):
    path = tmp_path / "v1.md"
    path.write_text("---\n- just\n- a list\n---\n" + BODY, encoding="utf-8")

    assert problems_in(path) == ("v1.md: front matter: expected a mapping of fields, got a list",)


def test_empty_body_is_rejected(tmp_path):
    path = write_policy(tmp_path, body="\n")

    assert problems_in(path) == ("v1.md: body: the policy text after the front matter is empty",)


def test_every_problem_in_a_file_is_reported_at_once(tmp_path):
    data = valid_front_matter(effective_date="someday")
    data["purposes"][0]["legal_basis"] = "consnet"
    data["purposes"][2]["sale_or_share"] = "maybe"

    problems = problems_in(write_policy(tmp_path, data))

    assert [p.split(": ")[1] for p in problems] == [
        "effective_date",
        "purposes[0].legal_basis",
        "purposes[2].sale_or_share",
    ]


# --- loading a directory --------------------------------------------------------------


def test_load_policy_dir_sorts_versions_by_effective_date(tmp_path):
    write_policy(
        tmp_path, valid_front_matter(version="b", effective_date="2024-06-01"), name="a.md"
    )
    write_policy(
        tmp_path, valid_front_matter(version="a", effective_date="2025-06-01"), name="b.md"
    )

    assert [d.version for d in load_policy_dir(tmp_path)] == ["b", "a"]


def test_load_policy_dir_raises_for_the_whole_directory_when_one_file_is_bad(tmp_path):
    write_policy(tmp_path, name="good.md")
    bad = valid_front_matter(version="v2", effective_date="2026-03-01")
    bad["purposes"][0]["legal_basis"] = "consnet"
    write_policy(tmp_path, bad, name="bad.md")

    with pytest.raises(PolicyValidationError) as caught:
        load_policy_dir(tmp_path)

    assert caught.value.problems == (
        "bad.md: purposes[0].legal_basis: unknown legal basis 'consnet' "
        "(expected one of consent, contract, legal-obligation, legitimate-interest)",
    )


def test_load_policy_dir_reports_the_problems_of_every_file(tmp_path):
    write_policy(tmp_path, valid_front_matter(summary=""), name="a.md")
    write_policy(
        tmp_path, valid_front_matter(version="v2", effective_date="2025-13-01"), name="b.md"
    )

    with pytest.raises(PolicyValidationError) as caught:
        load_policy_dir(tmp_path)

    assert [p.split(": ")[:2] for p in caught.value.problems] == [
        ["a.md", "summary"],
        ["b.md", "effective_date"],
    ]
    assert "a.md: summary" in str(caught.value)


def test_duplicate_version_label_across_files_is_rejected(tmp_path):
    write_policy(tmp_path, valid_front_matter(version="2025-01"), name="a.md")
    write_policy(
        tmp_path, valid_front_matter(version="2025-01", effective_date="2026-03-01"), name="b.md"
    )

    with pytest.raises(PolicyValidationError) as caught:
        load_policy_dir(tmp_path)

    assert caught.value.problems == (
        "b.md: version: duplicate version label '2025-01' (also in a.md)",
    )


def test_two_versions_cannot_take_effect_on_the_same_day(tmp_path):
    write_policy(tmp_path, valid_front_matter(version="a"), name="a.md")
    write_policy(tmp_path, valid_front_matter(version="b"), name="b.md")

    with pytest.raises(PolicyValidationError) as caught:
        load_policy_dir(tmp_path)

    assert caught.value.problems == (
        "b.md: effective_date: 2025-01-15 is also the effective date of a.md",
    )


def test_directory_without_policy_files_is_rejected(tmp_path):
    with pytest.raises(PolicyValidationError, match="no policy files"):
        load_policy_dir(tmp_path)


def test_version_labels_that_are_page_names_are_reserved(tmp_path):
    shipped = (SHIPPED_POLICIES / "2025-01.md").read_text()
    path = tmp_path / "compare.md"
    path.write_text(shipped.replace('version: "2025-01"', 'version: "compare"', 1))
    with pytest.raises(PolicyValidationError) as caught:
        parse_policy_file(path)
    assert any("version: 'compare' is reserved" in p for p in caught.value.problems)
