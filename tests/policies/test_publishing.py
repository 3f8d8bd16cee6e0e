"""Publishing policy versions: all or nothing, never changing what is published."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest
import sqlalchemy as sa

from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from consentmgr.policies.loader import parse_policy_file
from consentmgr.policies.models import (
    ImmutablePolicyError,
    PolicyPurpose,
    PolicyVersion,
    PurposeChangeKind,
)
from consentmgr.policies.publishing import PolicyChanged, PolicyInvalid, publish_policies
from consentmgr.policies.versions import get_purpose, get_version, list_versions, purposes_of
from tests.conftest import SHIPPED_POLICIES_DIR, TEST_ACTOR
from tests.policies.policy_files import valid_front_matter, write_policy

SHIPPED = Path(SHIPPED_POLICIES_DIR)


def count_rows(db, model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def second_version(**overrides: Any) -> dict[str, Any]:
    """A valid front matter for a version "v2" that follows write_policy's default "v1"."""
    return valid_front_matter(version="v2", effective_date="2025-06-01", **overrides)


# --- publishing ---------------------------------------------------------------------


def test_publishing_stores_every_version_with_its_exact_text_and_sha256(db, publish_policy_files):
    report = publish_policy_files()

    assert [v.version for v in report.published] == ["2025-01", "2026-03"]
    for version in list_versions():
        document = parse_policy_file(SHIPPED / version.source)
        assert version.text == document.text
        assert version.sha256 == document.sha256
        assert version.effective_date == document.effective_date
        assert version.document == document.to_dict(include_body=True)
        assert version.published_by == str(TEST_ACTOR)


def test_publishing_again_is_idempotent(db, publish_policy_files):
    publish_policy_files()

    report = publish_policy_files()

    assert report.published == ()
    assert [v.version for v in report.already_present] == ["2025-01", "2026-03"]
    assert count_rows(db, PolicyVersion) == 2
    assert count_rows(db, PolicyPurpose) == 11 + 12


def test_only_the_new_version_is_added_to_what_is_published(db, publish_policy_files, tmp_path):
    write_policy(tmp_path)
    publish_policy_files(tmp_path)
    write_policy(tmp_path, second_version(), name="v2.md")

    report = publish_policy_files(tmp_path)

    assert [v.version for v in report.published] == ["v2"]
    assert [v.version for v in report.already_present] == ["v1"]


def test_purposes_are_stored_with_their_notice_hash_and_flags(db, publish_policy_files):
    publish_policy_files()
    document = parse_policy_file(SHIPPED / "2026-03.md")

    stored = purposes_of(get_version("2026-03"))

    assert [p.slug for p in stored] == [p.slug for p in document.purposes]
    for row, purpose in zip(stored, document.purposes):
        assert (row.title, row.legal_basis, row.notice_hash) == (
            purpose.title, purpose.legal_basis, purpose.notice_hash
        )
        assert (row.sale_or_share, row.direct_marketing) == (
            purpose.sale_or_share, purpose.direct_marketing
        )


def test_every_purpose_of_the_first_version_is_stored_as_new(db, publish_policy_files):
    publish_policy_files()

    kinds = {p.change_kind for p in purposes_of(get_version("2025-01"))}

    assert kinds == {PurposeChangeKind.NEW}


def test_change_against_the_previous_version_is_stored_per_purpose(db, publish_policy_files):
    publish_policy_files()

    stored = {p.slug: p for p in purposes_of(get_version("2026-03"))}

    assert stored["product-reviews"].change_kind is PurposeChangeKind.NEW
    assert stored["personalisation"].change_kind is PurposeChangeKind.MATERIALLY_CHANGED
    assert set(stored["personalisation"].changed_fields) == {
        "description", "data_categories", "recipients"
    }
    others = {
        p.change_kind
        for slug, p in stored.items()
        if slug not in ("product-reviews", "personalisation")
    }
    assert others == {PurposeChangeKind.UNCHANGED}


def test_version_published_later_is_classified_against_the_latest_published_one(
    db, publish_policy_files, tmp_path
):
    write_policy(tmp_path)
    publish_policy_files(tmp_path)
    changed = second_version()
    changed["purposes"][1]["description"] = "Send offers, and now also by post."
    write_policy(tmp_path, changed, name="v2.md")

    publish_policy_files(tmp_path)

    purpose = get_purpose("v2", "marketing-email")
    assert purpose.change_kind is PurposeChangeKind.MATERIALLY_CHANGED
    assert purpose.changed_fields == ["description"]
    assert get_purpose("v2", "account").change_kind is PurposeChangeKind.UNCHANGED


# --- refusing bad files: all or nothing ------------------------------------------------


def _drop_title(data: dict[str, Any]) -> None:
    del data["purposes"][0]["title"]


def _unknown_legal_basis(data: dict[str, Any]) -> None:
    data["purposes"][1]["legal_basis"] = "because-we-can"


def _duplicate_slug(data: dict[str, Any]) -> None:
    data["purposes"][1]["slug"] = "account"


def _bad_date(data: dict[str, Any]) -> None:
    data["effective_date"] = "2025-02-30"


@pytest.mark.parametrize(
    ("break_file", "field"),
    [
        (_drop_title, "purposes[0].title"),
        (_unknown_legal_basis, "purposes[1].legal_basis"),
        (_duplicate_slug, "purposes[1].slug"),
        (_bad_date, "effective_date"),
    ],
    ids=["missing-field", "unknown-legal-basis", "duplicate-slug", "bad-date"],
)
def test_invalid_file_names_file_and_field_and_nothing_is_published(
    db, tmp_path, break_file: Callable[[dict[str, Any]], None], field: str
):
    write_policy(tmp_path)  # a valid v1 that must not be published either
    broken = second_version()
    break_file(broken)
    write_policy(tmp_path, broken, name="v2.md")

    with pytest.raises(PolicyInvalid) as caught:
        publish_policies(tmp_path, actor=TEST_ACTOR)

    assert any(p.startswith(f"v2.md: {field}: ") for p in caught.value.problems)
    assert "v2.md" in caught.value.errors
    assert count_rows(db, PolicyVersion) == 0
    assert count_rows(db, PolicyPurpose) == 0


def test_edited_published_version_is_refused_naming_the_version(db, publish_policy_files, tmp_path):
    first = write_policy(tmp_path)
    publish_policy_files(tmp_path)
    first.write_text(first.read_text().replace("Run your account.", "Run your account well."))
    write_policy(tmp_path, second_version(), name="v2.md")

    with pytest.raises(PolicyChanged) as caught:
        publish_policies(tmp_path, actor=TEST_ACTOR)

    assert caught.value.versions == ("v1",)
    assert "version v1" in str(caught.value)
    assert [v.version for v in list_versions()] == ["v1"]  # v2 was not published either


def test_published_version_whose_file_was_removed_is_refused(db, publish_policy_files, tmp_path):
    first = write_policy(tmp_path)
    publish_policy_files(tmp_path)
    write_policy(tmp_path, second_version(), name="v2.md")
    first.unlink()

    with pytest.raises(PolicyChanged) as caught:
        publish_policies(tmp_path, actor=TEST_ACTOR)

    assert caught.value.versions == ("v1",)
    assert [v.version for v in list_versions()] == ["v1"]


def test_new_version_cannot_take_effect_before_a_published_one(db, publish_policy_files, tmp_path):
    write_policy(tmp_path, second_version(), name="v2.md")
    publish_policy_files(tmp_path)
    write_policy(tmp_path, valid_front_matter(version="v1", effective_date="2025-01-15"))

    with pytest.raises(PolicyInvalid) as caught:
        publish_policies(tmp_path, actor=TEST_ACTOR)

    assert caught.value.problems[0].startswith("v1.md: effective_date: ")
    assert "published version v2" in caught.value.problems[0]
    assert [v.version for v in list_versions()] == ["v2"]


def test_published_rows_cannot_be_changed(db, publish_policy_files):
    publish_policy_files()
    version = get_version("2025-01")

    version.summary = "Quietly rewritten."
    with pytest.raises(ImmutablePolicyError):
        db.session.flush()


def test_published_rows_cannot_be_deleted(db, publish_policy_files):
    publish_policy_files()

    db.session.delete(get_version("2025-01").purposes[0])
    with pytest.raises(ImmutablePolicyError):
        db.session.flush()


def test_publishing_writes_one_audit_entry_per_new_version(db, publish_policy_files):
    publish_policy_files()
    publish_policy_files()  # idempotent: nothing new, nothing audited

    entries = db.session.scalars(
        sa.select(AuditEntry)
        .where(AuditEntry.action == actions.POLICY_PUBLISHED)
        .order_by(AuditEntry.sequence)
    ).all()
    assert [e.details["version"] for e in entries] == ["2025-01", "2026-03"]
