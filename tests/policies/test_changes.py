"""What changed between policy versions."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from consentmgr.policies.changes import DiffLine, compare_purposes, compare_versions, text_diff
from consentmgr.policies.document import (
    Contact,
    Controller,
    DataCategory,
    PolicyDocument,
    Purpose,
    Transfer,
)
from consentmgr.policies.loader import load_policy_dir
from consentmgr.policies.versions import PolicyNotFound

SHIPPED_POLICIES = Path(__file__).resolve().parents[2] / "policies"


def create_purpose(slug: str = "marketing-email", **overrides: Any) -> Purpose:
    fields: dict[str, Any] = {
        "slug": slug,
        "title": slug.replace("-", " ").title(),
        "description": f"We use data for {slug}.",
        "legal_basis": "consent",
        "data_categories": ("contact",),
        "retention": "Until withdrawn.",
        "recipients": ("Mailer Inc.",),
        "transfers": (Transfer("Mailer Inc.", "United States", "DPF"),),
    }
    fields.update(overrides)
    return Purpose(**fields)


def create_document(
    *purposes: Purpose, version: str = "v1", effective_date: date = date(2025, 1, 15)
) -> PolicyDocument:
    return PolicyDocument(
        version=version,
        effective_date=effective_date,
        summary="Test version.",
        controller=Controller("Example GmbH", "Street 1, Berlin", "privacy@example.test"),
        dpo=Contact("Dana Officer", "dpo@example.test"),
        purposes=purposes,
        data_categories=(DataCategory("contact", "Contact", "Email address.", "30 days.", 30),),
        body="## Policy\n",
        text=f"---\nversion: {version}\n---\n## Policy\n",
    )


def change_of(old_purpose: Purpose, new_purpose: Purpose):
    (change,) = compare_purposes(
        create_document(old_purpose), create_document(new_purpose, version="v2")
    )
    return change


# --- the shipped versions ---------------------------------------------------------


@pytest.fixture(scope="module")
def shipped_changes():
    first, second = load_policy_dir(SHIPPED_POLICIES)
    return {change.slug: change for change in compare_purposes(first, second)}


def test_purpose_added_in_the_second_shipped_version_is_new(shipped_changes):
    assert shipped_changes["product-reviews"].kind == "new"


def test_personalisation_is_materially_changed_in_the_second_shipped_version(shipped_changes):
    personalisation = shipped_changes["personalisation"]

    assert personalisation.kind == "materially-changed"
    assert "description" in personalisation.changed_fields


def test_every_other_shipped_purpose_is_unchanged(shipped_changes):
    others = {
        slug: c
        for slug, c in shipped_changes.items()
        if slug not in {"product-reviews", "personalisation"}
    }

    assert others
    assert {c.kind for c in others.values()} == {"unchanged"}
    assert all(c.changed_fields == () and c.minor_fields == () for c in others.values())


# --- synthetic cases ----------------------------------------------------------------


def test_every_purpose_of_the_first_version_is_new():
    document = create_document(create_purpose("account"), create_purpose("analytics"))

    assert [(c.slug, c.kind) for c in compare_purposes(None, document)] == [
        ("account", "new"),
        ("analytics", "new"),
    ]


def test_purpose_dropped_from_the_new_version_is_removed_and_listed_last():
    old = create_document(create_purpose("account"), create_purpose("analytics"))
    new = create_document(create_purpose("account"), create_purpose("support"), version="v2")

    assert [(c.slug, c.kind) for c in compare_purposes(old, new)] == [
        ("account", "unchanged"),
        ("support", "new"),
        ("analytics", "removed"),
    ]


def test_identical_purpose_is_unchanged():
    change = change_of(create_purpose(), create_purpose())

    assert (change.kind, change.changed_fields, change.minor_fields) == ("unchanged", (), ())
    assert not change.needs_fresh_notice


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("description", "We use data for marketing-email, and now also for surveys."),
        ("legal_basis", "legitimate-interest"),
        ("data_categories", ("contact", "order-history")),
        ("recipients", ("Mailer Inc.", "Survey Ltd")),
        ("transfers", ()),
        ("sale_or_share", True),
        ("direct_marketing", True),
    ],
)
def test_change_to_what_is_done_with_the_data_is_material(field, value):
    old = create_purpose()

    change = change_of(old, dataclasses.replace(old, **{field: value}))

    assert change.kind == "materially-changed"
    assert change.changed_fields == (field,)
    assert change.needs_fresh_notice


def test_changed_legitimate_interest_is_material():
    old = create_purpose(
        "analytics", legal_basis="legitimate-interest", interest="Improving the site."
    )

    change = change_of(
        old, dataclasses.replace(old, interest="Improving the site and selling ads.")
    )

    assert (change.kind, change.changed_fields) == ("materially-changed", ("interest",))


@pytest.mark.parametrize(
    ("field", "value"),
    [("title", "Our newsletter"), ("retention", "Until you withdraw your consent.")],
)
def test_new_title_or_retention_wording_is_not_material_but_listed(field, value):
    old = create_purpose()

    change = change_of(old, dataclasses.replace(old, **{field: value}))

    assert change.kind == "unchanged"
    assert change.changed_fields == ()
    assert change.minor_fields == (field,)


def test_change_reports_the_title_of_the_new_version():
    old = create_purpose(title="Newsletter")

    assert (
        change_of(old, dataclasses.replace(old, title="Our newsletter")).title == "Our newsletter"
    )


# --- text diff -------------------------------------------------------------------


def test_diff_of_equal_texts_is_empty():
    assert text_diff("a\nb\n", "a\nb\n") == []


def test_diff_marks_added_removed_and_context_lines_with_their_numbers():
    old = "one\ntwo\nthree\n"
    new = "one\n2\nthree\nfour\n"

    assert text_diff(old, new) == [
        DiffLine("hunk", "@@ -1,3 +1,4 @@"),
        DiffLine("context", "one", 1, 1),
        DiffLine("removed", "two", 2, None),
        DiffLine("added", "2", None, 2),
        DiffLine("context", "three", 3, 3),
        DiffLine("added", "four", None, 4),
    ]


def test_diff_keeps_only_the_context_asked_for():
    old = "\n".join(str(n) for n in range(1, 21))
    new = old.replace("10", "ten")

    diff = text_diff(old, new, context=1)

    assert [line.kind for line in diff] == ["hunk", "context", "removed", "added", "context"]
    assert diff[1] == DiffLine("context", "9", 9, 9)


def test_removed_line_that_looks_like_a_front_matter_fence_is_kept():
    diff = text_diff("---\nversion: 1\n---\n", "---\nversion: 2\n---\n")

    assert [(line.kind, line.text) for line in diff] == [
        ("hunk", "@@ -1,3 +1,3 @@"),
        ("context", "---"),
        ("removed", "version: 1"),
        ("added", "version: 2"),
        ("context", "---"),
    ]


def test_line_endings_do_not_count_as_changes():
    assert text_diff("a\r\nb\r\n", "a\nb\n") == []


def test_diff_of_the_shipped_versions_shows_the_new_purpose():
    first, second = load_policy_dir(SHIPPED_POLICIES)

    added = [line.text for line in text_diff(first.text, second.text) if line.kind == "added"]

    assert "  - slug: product-reviews" in added


# --- two published versions --------------------------------------------------------


def test_comparison_lists_each_purpose_with_its_change(db, publish_policy_files):
    publish_policy_files()

    comparison = compare_versions("2025-01", "2026-03")

    assert [p.new.slug for p in comparison.purposes_of_kind("new")] == ["product-reviews"]
    changed = comparison.purposes_of_kind("materially-changed")
    assert [(p.old.slug, p.new.slug) for p in changed] == [("personalisation", "personalisation")]
    assert len(comparison.purposes_of_kind("unchanged")) == 10
    assert comparison.purposes_of_kind("removed") == []


def test_comparison_backwards_shows_the_newer_purpose_as_removed(db, publish_policy_files):
    publish_policy_files()

    comparison = compare_versions("2026-03", "2025-01")

    assert [p.old.slug for p in comparison.purposes_of_kind("removed")] == ["product-reviews"]


def test_comparison_lists_new_data_categories_and_diffs_the_policy_text(db, publish_policy_files):
    publish_policy_files()

    comparison = compare_versions("2025-01", "2026-03")

    assert [(c.slug, c.kind) for c in comparison.categories] == [("reviews", "new")]
    added = [line.text for line in comparison.diff if line.kind == "added"]
    assert "### What changed on 1 March 2026" in added
    assert comparison.hunks and all(h.lines for h in comparison.hunks)


def test_comparison_with_an_unknown_version_is_not_found(db, publish_policy_files):
    publish_policy_files()

    with pytest.raises(PolicyNotFound):
        compare_versions("2025-01", "2099-01")
