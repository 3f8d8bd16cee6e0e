"""Published policies and purposes through the API (public, like /privacy)."""

from __future__ import annotations

from tests.web.api.conftest import assert_problem


def test_policies_are_listed_newest_first_with_their_status(client, policy):
    policies = client.get("/api/v1/policies").get_json()["policies"]
    assert [(p["version"], p["status"]) for p in policies] == [
        ("2026-03", "current"), ("2025-01", "superseded")]
    assert all(len(p["sha256"]) == 64 for p in policies)


def test_a_version_has_its_purposes_with_notice_hashes_and_its_text(client, policy):
    from consentmgr.policies.services import get_purpose

    version = client.get("/api/v1/policies/2025-01").get_json()
    assert (version["version"], version["effective_date"], version["status"]) == (
        "2025-01", "2025-01-15", "superseded")
    marketing = next(p for p in version["purposes"] if p["slug"] == "marketing-email")
    assert marketing["notice_hash"] == get_purpose("2025-01", "marketing-email").notice_hash
    assert version["body"].lstrip().startswith("#")


def test_an_unknown_version_is_404(client, policy):
    assert_problem(client.get("/api/v1/policies/1999-01"), 404, "not-found")


def test_purposes_are_those_of_the_policy_in_effect(client, policy):
    from consentmgr.policies.services import current_version

    answer = client.get("/api/v1/purposes").get_json()
    assert answer["policy_version"] == "2026-03"
    assert [p["slug"] for p in answer["purposes"]] == [p.slug for p in current_version().purposes]


def test_purposes_before_any_policy_is_published_is_404(client):
    assert_problem(client.get("/api/v1/purposes"), 404, "not-found")
