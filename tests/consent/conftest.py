"""Fixtures for the consent ledger: published policies and an actor."""

from __future__ import annotations

import shutil

import pytest

from consentmgr.actors import Actor
from consentmgr.config import PROJECT_ROOT

CUSTOMER_ACTOR = Actor("customer", "self")
POLICIES = PROJECT_ROOT / "policies"


@pytest.fixture
def publish(db, tmp_path):
    """Creator: ``publish("2025-01.md", ...)`` publishes those shipped policy files."""
    from consentmgr.policies.services import publish_policies

    directory = tmp_path / "policies"
    directory.mkdir()

    def publish_files(*names: str):
        for name in names or [p.name for p in POLICIES.glob("*.md")]:
            shutil.copy(POLICIES / name, directory / name)
        report = publish_policies(directory, actor=Actor("system", "test"))
        db.session.commit()
        return report

    return publish_files


@pytest.fixture
def policies(publish):
    """Both shipped policy versions, published."""
    return publish()
