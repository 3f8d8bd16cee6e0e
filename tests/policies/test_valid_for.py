"""How long a consent lasts (``valid_for_days``): checked at publish, part of the notice,
a material change when it changes."""

from __future__ import annotations

import dataclasses

import pytest
import sqlalchemy as sa

from consentmgr.policies.document import Purpose
from consentmgr.policies.models import PolicyPurpose, PolicyVersion, PurposeChangeKind
from consentmgr.policies.publishing import PolicyInvalid, publish_policies
from consentmgr.policies.schemas import PolicyHeaderSchema
from consentmgr.policies.versions import get_purpose
from tests.conftest import TEST_ACTOR
from tests.consent.expiring import EXPIRING, expiring_front_matter
from tests.policies.policy_files import write_policy
from tests.policies.test_changes import change_of, create_purpose
from tests.policies.test_schemas import problems

WHERE = "purposes[1].valid_for_days"  # the marketing purpose of the test policy


def test_a_term_in_whole_days_loads_onto_the_purpose():
    purposes = PolicyHeaderSchema().load(expiring_front_matter(730))["purposes"]

    assert {p.slug: p.valid_for_days for p in purposes}[EXPIRING] == 730


def test_a_purpose_without_a_term_lasts_until_withdrawn():
    purposes = PolicyHeaderSchema().load(expiring_front_matter(None))["purposes"]

    assert all(p.valid_for_days is None for p in purposes)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "expected a whole number of days, at least 1, got the number 0"),
        (-30, "expected a whole number of days, at least 1, got the number -30"),
        ("395d", "expected a whole number of days, at least 1, got text '395d'"),
        ("24 months", "expected a whole number of days, at least 1, got text '24 months'"),
        (1.5, "expected a whole number of days, at least 1, got the number 1.5"),
        (True, "expected a whole number of days, at least 1, got true"),
        (None, "must not be empty"),
        (4000, ("at most 3660 days (ten years), got 4000; leave valid_for_days out for a "
                "consent that lasts until withdrawn")),
    ],
    ids=["zero", "negative", "suffixed", "words", "fraction", "boolean", "empty", "too-long"],
)
def test_a_term_that_is_not_a_plain_number_of_days_is_refused_and_says_why(value, message):
    data = expiring_front_matter(None)
    data["purposes"][1]["valid_for_days"] = value

    assert problems(data) == [(WHERE, message)]


def test_only_consent_can_have_a_term():
    data = expiring_front_matter(None)
    data["purposes"][0]["valid_for_days"] = 365  # "account", based on a contract

    assert problems(data) == [
        ("purposes[0].valid_for_days", "only allowed when legal_basis is consent")]


def test_a_misspelt_field_is_named_with_the_right_spelling():
    data = expiring_front_matter(None)
    data["purposes"][1]["valid_for"] = 365

    ((where, message),) = problems(data)
    assert where == "purposes[1].valid_for"
    assert "unknown field" in message and "valid_for_days" in message


def test_publishing_a_bad_term_names_file_and_field_and_publishes_nothing(db, tmp_path):
    write_policy(tmp_path, expiring_front_matter("13 months"))

    with pytest.raises(PolicyInvalid) as caught:
        publish_policies(tmp_path, actor=TEST_ACTOR)

    assert caught.value.problems == (
        f"v1.md: {WHERE}: expected a whole number of days, at least 1, got text '13 months'",)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PolicyVersion)) == 0


def test_a_published_term_is_stored_with_the_purpose(db, tmp_path):
    write_policy(tmp_path, expiring_front_matter(365))
    publish_policies(tmp_path, actor=TEST_ACTOR)
    db.session.commit()

    assert get_purpose("v1", EXPIRING).valid_for_days == 365
    assert get_purpose("v1", "account").valid_for_days is None


def test_the_term_is_part_of_the_notice_the_customer_agrees_to():
    plain = create_purpose()

    assert "valid_for_days" not in plain.notice_fields()  # older notices keep their hash
    assert dataclasses.replace(plain, valid_for_days=365).notice_hash != plain.notice_hash
    assert Purpose.from_dict(
        dataclasses.replace(plain, valid_for_days=365).to_dict()).valid_for_days == 365


@pytest.mark.parametrize(("before", "after"), [(None, 730), (730, 365), (365, None)],
                         ids=["term-added", "term-changed", "term-removed"])
def test_changing_how_long_consent_lasts_is_a_material_change(before, after):
    change = change_of(create_purpose(valid_for_days=before), create_purpose(valid_for_days=after))

    assert change.kind == "materially-changed"
    assert change.changed_fields == ("valid_for_days",)
    assert change.needs_fresh_notice


def test_a_new_version_with_a_new_term_is_stored_as_materially_changed(db, tmp_path):
    write_policy(tmp_path, expiring_front_matter(None))
    write_policy(tmp_path, expiring_front_matter(730, version="v2", effective_date="2025-06-01"),
                 name="v2.md")
    publish_policies(tmp_path, actor=TEST_ACTOR)
    db.session.commit()

    stored = db.session.scalar(sa.select(PolicyPurpose).join(PolicyVersion).where(
        PolicyVersion.version == "v2", PolicyPurpose.slug == EXPIRING))
    assert stored.change_kind == PurposeChangeKind.MATERIALLY_CHANGED
    assert stored.changed_fields == ["valid_for_days"]
