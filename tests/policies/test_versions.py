"""Reading published versions: the one in effect, its neighbours, its purposes, its document."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from consentmgr.policies.loader import parse_policy_file
from consentmgr.policies.versions import (
    PolicyNotFound,
    current_version,
    describe_version,
    document_of,
    get_purpose,
    get_version,
    upcoming_version,
    version_history,
)
from tests.conftest import SHIPPED_POLICIES_DIR

SHIPPED = Path(SHIPPED_POLICIES_DIR)


# --- the version in effect ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "label"),
    [
        (dt.date(2025, 1, 15), "2025-01"),
        (dt.date(2025, 6, 1), "2025-01"),
        (dt.date(2026, 2, 28), "2025-01"),
        (dt.date(2026, 3, 1), "2026-03"),
        (dt.date(2026, 11, 23), "2026-03"),
    ],
)
def test_current_version_is_the_latest_in_effect_on_the_day(db, publish_policy_files, today, label):
    publish_policy_files()

    assert current_version(today).version == label


def test_no_version_is_current_before_the_first_takes_effect(db, publish_policy_files):
    publish_policy_files()

    with pytest.raises(PolicyNotFound):
        current_version(dt.date(2025, 1, 14))


def test_upcoming_version_is_the_next_to_take_effect(db, publish_policy_files):
    publish_policy_files()

    assert upcoming_version(dt.date(2025, 6, 1)).version == "2026-03"
    assert upcoming_version(dt.date(2026, 11, 23)) is None


def test_history_marks_current_upcoming_and_superseded_versions(db, publish_policy_files):
    publish_policy_files()

    history = version_history(dt.date(2025, 6, 1))

    assert [(i.version.version, i.status) for i in history] == [
        ("2026-03", "upcoming"), ("2025-01", "current")
    ]
    assert history[1].effective_until == dt.date(2026, 2, 28)


def test_superseded_version_knows_when_it_stopped_applying(db, publish_policy_files):
    publish_policy_files()

    info = describe_version(get_version("2025-01"), dt.date(2026, 11, 23))

    assert info.status == "superseded"
    assert info.effective_until == dt.date(2026, 2, 28)
    assert info.following.version == "2026-03"


def test_unknown_version_is_not_found(db, publish_policy_files):
    publish_policy_files()

    with pytest.raises(PolicyNotFound):
        get_version("1999-01")


def test_purpose_is_found_by_version_and_slug_with_its_notice_hash(db, publish_policy_files):
    publish_policy_files()

    purpose = get_purpose("2026-03", "marketing-email")

    expected = parse_policy_file(SHIPPED / "2026-03.md").purpose("marketing-email")
    assert (purpose.version, purpose.notice_hash) == ("2026-03", expected.notice_hash)


def test_stored_document_rebuilds_exactly_what_was_parsed(db, publish_policy_files):
    publish_policy_files()

    rebuilt = document_of(get_version("2026-03"))

    parsed = parse_policy_file(SHIPPED / "2026-03.md")
    assert rebuilt == parsed
