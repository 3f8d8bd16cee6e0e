"""``flask policies publish`` and ``flask policies list``."""

from __future__ import annotations

import sqlalchemy as sa
import time_machine

from consentmgr.policies.models import PolicyVersion
from tests.policies.test_document import valid_front_matter, write_policy


def published_labels(db) -> list[str]:
    return list(db.session.scalars(sa.select(PolicyVersion.version).order_by(PolicyVersion.id)))


def test_publish_without_dir_loads_the_configured_policies_directory(runner, db):
    result = runner.invoke(args=["policies", "publish"])

    assert result.exit_code == 0, result.output
    assert "2025-01 (effective 2025-01-15, 2025-01.md): published" in result.output
    assert "2026-03 (effective 2026-03-01, 2026-03.md): published" in result.output
    assert published_labels(db) == ["2025-01", "2026-03"]


def test_publishing_twice_reports_the_versions_already_present(runner, db):
    runner.invoke(args=["policies", "publish"])

    result = runner.invoke(args=["policies", "publish"])

    assert result.exit_code == 0, result.output
    assert "2025-01 (effective 2025-01-15, 2025-01.md): already published" in result.output
    assert "0 published, 2 already present" in result.output
    assert published_labels(db) == ["2025-01", "2026-03"]


def test_invalid_files_print_every_problem_exit_1_and_publish_nothing(runner, db, tmp_path):
    write_policy(tmp_path)  # valid, but must not be published alongside a broken file
    broken = valid_front_matter(version="v2", effective_date="2025-02-30")
    broken["purposes"][1]["legal_basis"] = "because-we-can"
    write_policy(tmp_path, broken, name="v2.md")

    result = runner.invoke(args=["policies", "publish", "--dir", str(tmp_path)])

    assert result.exit_code == 1
    assert "v2.md: effective_date: " in result.stderr
    assert "v2.md: purposes[1].legal_basis: unknown legal basis 'because-we-can'" in result.stderr
    assert "nothing was published" in result.stderr
    assert published_labels(db) == []


def test_edited_published_file_exits_1_naming_the_version(runner, db, tmp_path):
    path = write_policy(tmp_path)
    runner.invoke(args=["policies", "publish", "--dir", str(tmp_path)])
    path.write_text(path.read_text().replace("Run your account.", "Run your account better."))

    result = runner.invoke(args=["policies", "publish", "--dir", str(tmp_path)])

    assert result.exit_code == 1
    assert "version v1: v1.md differs from the published text" in result.stderr
    assert "needs a new version" in result.stderr


def test_missing_directory_exits_1_with_a_message(runner, db, tmp_path):
    result = runner.invoke(args=["policies", "publish", "--dir", str(tmp_path / "nowhere")])

    assert result.exit_code == 1
    assert "not a directory" in result.stderr


def test_list_shows_each_version_with_its_status_today(runner, db):
    runner.invoke(args=["policies", "publish"])

    with time_machine.travel("2026-11-23 12:00Z", tick=False):
        result = runner.invoke(args=["policies", "list"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("2025-01") and "superseded" in lines[0]
    assert lines[1].startswith("2026-03") and "current" in lines[1]
    assert "12 purposes (2 new or changed)" in lines[1]


def test_list_before_publishing_says_how_to_publish(runner, db):
    result = runner.invoke(args=["policies", "list"])

    assert result.exit_code == 0
    assert "flask policies publish" in result.output
