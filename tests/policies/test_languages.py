"""A policy version in several languages: each translation says what the English file says."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from consentmgr.policies.document import PolicyValidationError
from consentmgr.policies.loader import language_of_file, load_policies
from consentmgr.policies.models import ImmutablePolicyError, PolicyTranslation, PolicyVersion
from consentmgr.policies.publishing import PolicyChanged, PolicyInvalid
from consentmgr.policies.versions import document_of, get_notice, get_version
from tests.conftest import SHIPPED_POLICIES_DIR
from tests.policies.policy_files import valid_front_matter, write_policy

SHIPPED = Path(SHIPPED_POLICIES_DIR)

GERMAN_BODY = """
## Über diese Datenschutzerklärung

Wer wir sind und was wir mit Ihren Daten tun.

## Ihre Rechte

Sie können Ihre Einwilligung jederzeit widerrufen.
"""


def german(**overrides: Any) -> dict[str, Any]:
    """The German text of ``valid_front_matter()``: same facts, German words."""
    data = copy.deepcopy(valid_front_matter())
    data["summary"] = "Erste Fassung."
    titles = {"account": "Ihr Kundenkonto", "marketing-email": "Newsletter",
              "analytics": "Analyse"}
    for purpose in data["purposes"]:
        purpose["title"] = titles[purpose["slug"]]
        purpose["description"] = f"Beschreibung von {purpose['slug']}."
    for category in data["data_categories"]:
        category["title"] = f"Kategorie {category['slug']}"
    data.update(overrides)
    return data


def write_versions(directory: Path, de: dict[str, Any] | None = None, *,
                   de_name: str = "v1.de.md") -> Path:
    write_policy(directory)
    write_policy(directory, de or german(), name=de_name, body=GERMAN_BODY)
    return directory


def problems_of(directory: Path) -> list[str]:
    with pytest.raises(PolicyValidationError) as caught:
        load_policies(directory)
    return list(caught.value.problems)


def count(db, model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


# --- files -----------------------------------------------------------------------


@pytest.mark.parametrize(("name", "expected"), [
    ("2026-03.md", ("2026-03", "en")), ("2026-03.de.md", ("2026-03", "de")),
    ("v1.md", ("v1", "en")), ("v1.0.md", ("v1.0", "en")),
])
def test_the_language_is_the_part_of_the_name_before_md(name, expected):
    assert language_of_file(name) == expected


def test_shipped_versions_come_in_english_and_german():
    versions = load_policies(SHIPPED)
    assert [(v.document.version, v.languages) for v in versions] == [
        ("2025-01", ("en", "de")), ("2026-03", ("en", "de"))]


def test_shipped_german_texts_define_the_english_purposes_and_legal_bases():
    for files in load_policies(SHIPPED):
        english, german_text = files.document, files.translations["de"]
        assert [(p.slug, p.legal_basis) for p in german_text.purposes] == [
            (p.slug, p.legal_basis) for p in english.purposes]
        assert german_text.language == "de" and german_text.body != english.body


def test_a_matching_translation_loads_beside_its_english_file(tmp_path):
    (files,) = load_policies(write_versions(tmp_path))
    assert files.languages == ("en", "de")
    assert files.translations["de"].purpose("account").title == "Ihr Kundenkonto"
    assert files.document.language == "en"


def test_a_translation_with_another_purpose_is_refused_naming_file_and_purpose(tmp_path):
    data = german()
    data["purposes"] = [p for p in data["purposes"] if p["slug"] != "analytics"]
    problems = problems_of(write_versions(tmp_path, data))
    assert problems == ["v1.de.md: purposes: v1.md defines purpose 'analytics', "
                        "this translation does not"]


def test_a_translation_with_an_extra_purpose_is_refused(tmp_path):
    data = german()
    data["purposes"].append({**data["purposes"][1], "slug": "marketing-sms"})
    problems = problems_of(write_versions(tmp_path, data))
    assert problems == ["v1.de.md: purposes: purpose 'marketing-sms' is not defined in v1.md"]


def test_a_translation_with_another_legal_basis_is_refused_naming_both(tmp_path):
    data = german()
    data["purposes"][1]["legal_basis"] = "contract"
    problems = problems_of(write_versions(tmp_path, data))
    assert problems == ["v1.de.md: purposes.marketing-email.legal_basis: "
                        "'contract' here, 'consent' in v1.md"]


def test_a_translation_using_other_data_or_retention_is_refused(tmp_path):
    data = german()
    data["purposes"][1]["data_categories"] = ["contact", "usage"]
    data["data_categories"][0]["retention_days"] = 60
    problems = problems_of(write_versions(tmp_path, data))
    assert problems == [
        "v1.de.md: purposes.marketing-email.data_categories: [contact, usage] here, "
        "[contact] in v1.md",
        "v1.de.md: data_categories.contact.retention_days: 60 here, 30 in v1.md",
    ]


def test_a_translation_with_another_effective_date_is_refused(tmp_path):
    problems = problems_of(write_versions(tmp_path, german(effective_date="2025-02-01")))
    assert problems == ["v1.de.md: effective_date: 2025-02-01 here, 2025-01-15 in v1.md"]


def test_a_file_in_a_language_the_app_does_not_speak_is_refused(tmp_path):
    problems = problems_of(write_versions(tmp_path, de_name="v1.fr.md"))
    assert len(problems) == 1
    assert problems[0].startswith("v1.fr.md: language: 'fr' is not a language the app speaks")


def test_a_translation_without_its_english_file_is_refused(tmp_path):
    write_policy(tmp_path)
    write_policy(tmp_path, german(), name="v2.de.md", body=GERMAN_BODY)
    assert problems_of(tmp_path) == [
        "v2.de.md: language: no English file v2.md for this translation"]


def test_the_english_text_is_the_file_without_a_language(tmp_path):
    write_policy(tmp_path)
    write_policy(tmp_path, name="v1.en.md")
    assert problems_of(tmp_path) == [
        "v1.en.md: language: English is the canonical text; name the file v1.md"]


# --- publishing --------------------------------------------------------------------


def test_publishing_stores_each_language_with_its_own_text_and_hashes(db, publish_policy_files,
                                                                     tmp_path):
    report = publish_policy_files(write_versions(tmp_path))
    (translation,) = report.translations
    assert (translation.language, translation.source) == ("de", "v1.de.md")
    version = get_version("v1")
    assert version.languages == ("en", "de")
    assert translation.text == (tmp_path / "v1.de.md").read_text(encoding="utf-8")
    english_hash = version.purpose("marketing-email").notice_hash
    german_hash = translation.notices["marketing-email"]["notice_hash"]
    assert german_hash != english_hash
    assert german_hash == document_of(version, "de").purpose("marketing-email").notice_hash


def test_the_notice_in_a_language_has_that_languages_hash_and_title(db, publish_policy_files,
                                                                   tmp_path):
    publish_policy_files(write_versions(tmp_path))
    notice = get_notice("v1", "account", "de")
    assert (notice.language, notice.title) == ("de", "Ihr Kundenkonto")
    assert notice.notice_hash != get_notice("v1", "account").notice_hash


def test_a_version_without_the_language_gives_the_english_notice(db, publish_policy_files,
                                                                tmp_path):
    write_policy(tmp_path)
    publish_policy_files(tmp_path)
    notice = get_notice("v1", "account", "de")
    assert (notice.language, notice.title) == ("en", "Your account")
    assert document_of(get_version("v1"), "de").language == "en"


def test_a_differing_translation_publishes_nothing_at_all(db, publish_policy_files, tmp_path):
    data = german()
    data["purposes"][2]["legal_basis"] = "consent"
    data["purposes"][2].pop("interest")
    with pytest.raises(PolicyInvalid) as caught:
        publish_policy_files(write_versions(tmp_path, data))
    assert "v1.de.md: purposes.analytics.legal_basis" in str(caught.value)
    assert "nothing was published" in str(caught.value)
    assert (count(db, PolicyVersion), count(db, PolicyTranslation)) == (0, 0)


def test_a_language_can_be_added_to_a_published_version(db, publish_policy_files, tmp_path):
    write_policy(tmp_path)
    publish_policy_files(tmp_path)
    write_policy(tmp_path, german(), name="v1.de.md", body=GERMAN_BODY)
    report = publish_policy_files(tmp_path)
    assert report.published == () and [t.language for t in report.translations] == ["de"]
    assert get_version("v1").languages == ("en", "de")
    again = publish_policy_files(tmp_path)
    assert again.translations == ()


def test_an_edited_published_translation_is_refused(db, publish_policy_files, tmp_path):
    publish_policy_files(write_versions(tmp_path))
    path = tmp_path / "v1.de.md"
    path.write_text(path.read_text(encoding="utf-8") + "\nNoch ein Satz.\n", encoding="utf-8")
    with pytest.raises(PolicyChanged) as caught:
        publish_policy_files(tmp_path)
    assert caught.value.versions == ("v1",)
    assert "v1.de.md differs from the published de text" in str(caught.value)


def test_a_removed_published_translation_is_refused(db, publish_policy_files, tmp_path):
    publish_policy_files(write_versions(tmp_path))
    (tmp_path / "v1.de.md").unlink()
    with pytest.raises(PolicyChanged) as caught:
        publish_policy_files(tmp_path)
    assert "a published translation cannot be withdrawn" in str(caught.value)


def test_published_translations_cannot_be_changed(db, publish_policy_files, tmp_path):
    (translation,) = publish_policy_files(write_versions(tmp_path)).translations
    translation.text = "changed"
    with pytest.raises(ImmutablePolicyError):
        db.session.flush()
    db.session.rollback()


def test_each_published_translation_is_audited(db, publish_policy_files, tmp_path):
    publish_policy_files(write_versions(tmp_path))
    entry = db.session.scalar(sa.select(AuditEntry).where(
        AuditEntry.action == actions.POLICY_TRANSLATION_PUBLISHED))
    assert entry.details["version"] == "v1" and entry.details["language"] == "de"
