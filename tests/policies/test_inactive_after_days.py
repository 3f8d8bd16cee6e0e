"""When inactive accounts are closed (``inactive_after_days``): checked at publish, published,
shown in a comparison, and no reason to ask anyone for consent again."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
import time_machine

from consentmgr.policies.changes import compare_purposes
from consentmgr.policies.loader import parse_policy_file
from consentmgr.policies.models import PolicyVersion
from consentmgr.policies.publishing import PolicyInvalid, publish_policies
from consentmgr.policies.schemas import PolicyHeaderSchema
from consentmgr.policies.versions import document_of, get_version
from tests.conftest import TEST_ACTOR
from tests.policies.policy_files import valid_front_matter, write_policy
from tests.policies.test_schemas import problems

WHERE = "inactive_after_days"
RANGE = ("expected a whole number of days from 90 to 3660 (ten years), got {}; leave "
         "inactive_after_days out to keep inactive accounts open")


def test_a_period_in_whole_days_loads_onto_the_document(tmp_path):
    assert PolicyHeaderSchema().load(valid_front_matter(inactive_after_days=730))[
        "inactive_after_days"] == 730
    document = parse_policy_file(write_policy(tmp_path, valid_front_matter(inactive_after_days=730)))
    assert document.inactive_after_days == 730


def test_without_the_field_accounts_stay_open_however_quiet(tmp_path):
    assert parse_policy_file(write_policy(tmp_path)).inactive_after_days is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, RANGE.format(0)),
        (60, RANGE.format(60)),
        (4000, RANGE.format(4000)),
        ("2 years", "expected a whole number of days, at least 1, got text '2 years'"),
        (True, "expected a whole number of days, at least 1, got true"),
        (730.5, "expected a whole number of days, at least 1, got the number 730.5"),
        (None, "must not be empty"),
    ],
    ids=["zero", "too-short", "too-long", "words", "boolean", "fraction", "empty"],
)
def test_a_period_that_is_not_a_sensible_number_of_days_is_refused_and_says_why(value, message):
    assert problems(valid_front_matter(inactive_after_days=value)) == [(WHERE, message)]


def test_publishing_a_bad_period_names_file_and_field_and_publishes_nothing(db, tmp_path):
    write_policy(tmp_path, valid_front_matter(inactive_after_days="two years"))

    with pytest.raises(PolicyInvalid) as caught:
        publish_policies(tmp_path, actor=TEST_ACTOR)

    assert caught.value.problems == (
        f"v1.md: {WHERE}: expected a whole number of days, at least 1, got text 'two years'",)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PolicyVersion)) == 0


@pytest.fixture
def two_versions(db, tmp_path):
    """v1 keeps quiet accounts open; v2 (from 2026-01-01) closes them after 730 days."""
    write_policy(tmp_path)
    write_policy(tmp_path, valid_front_matter(version="v2", effective_date="2026-01-01",
                                              summary="Inactive accounts are closed.",
                                              inactive_after_days=730), name="v2.md")
    publish_policies(tmp_path, actor=TEST_ACTOR)
    db.session.commit()


def test_the_published_period_is_stored_and_in_the_versions_json(client, two_versions):
    assert document_of(get_version("v2")).inactive_after_days == 730
    assert document_of(get_version("v1")).inactive_after_days is None
    with time_machine.travel("2026-11-23 12:00Z", tick=False):
        assert client.get("/privacy/v2.json").get_json()["inactive_after_days"] == 730
        assert "inactive_after_days" not in client.get("/privacy/v1.json").get_json()


def test_the_policy_page_tells_customers_when_quiet_accounts_are_closed(client, two_versions):
    with time_machine.travel("2026-11-23 12:00Z", tick=False):
        html = client.get("/privacy/v2").get_data(as_text=True)
        older = client.get("/privacy/v1").get_data(as_text=True)

    assert "If you do not use your account for 730 days" in html
    assert "If you do not use your account" not in older


def test_a_new_period_asks_nobody_again_but_shows_in_the_comparison(client, two_versions):
    old, new = document_of(get_version("v1")), document_of(get_version("v2"))
    assert all(change.kind == "unchanged" for change in compare_purposes(old, new))

    with time_machine.travel("2026-11-23 12:00Z", tick=False):
        html = client.get("/privacy/compare?from=v1&to=v2").get_data(as_text=True)

    assert "Inactive accounts" in html and "<ins>730 days</ins>" in html
