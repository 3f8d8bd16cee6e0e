"""Fixtures for API tests: keys with scopes, authenticated calls, a published policy."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from consentmgr.apiclients.services import SCOPES
from tests.conftest import TEST_ACTOR

PROBLEM_JSON = "application/problem+json"


def assert_problem(response: Any, status: int, problem_type: str | None = None) -> dict[str, Any]:
    """Assert ``response`` is an RFC 9457 problem with ``status``; returns its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_JSON
    body = response.get_json(force=True)
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    if problem_type is not None:
        assert body["type"].endswith(f"#problem-{problem_type}")
    return body


@pytest.fixture(autouse=True)
def _fresh_auth_cache(request):
    """Every test of the shared app starts with an empty key cache (tables are emptied too).

    Tests that build their own app (the fuzzer) are left alone: asking for
    ``app`` would run them once per database.
    """
    from consentmgr.apiclients.services import forget_cached_clients
    from consentmgr.runtime import runtime

    if "app" not in request.fixturenames:
        yield
        return
    state = runtime(request.getfixturevalue("app"))
    forget_cached_clients(state)
    yield
    forget_cached_clients(state)


@pytest.fixture
def create_api_client(db) -> Callable[..., tuple[Any, str]]:
    """Creator: ``create_api_client(scopes=..., name=...)`` commits and returns (client, key)."""
    from consentmgr.apiclients.services import create_client

    def create(scopes: str | list[str] = SCOPES, name: str = "shop") -> tuple[Any, str]:
        client, key = create_client(name, scopes, actor=TEST_ACTOR)
        db.session.commit()
        return client, key

    return create


@pytest.fixture
def api_key(create_api_client) -> str:
    """A key with every scope."""
    return create_api_client()[1]


@pytest.fixture
def bearer(api_key) -> dict[str, str]:
    """The Authorization header for :func:`api_key`."""
    return {"Authorization": f"Bearer {api_key}"}


@pytest.fixture
def policy(publish_policy_files):
    """The shipped policy versions, published (2026-03 in effect)."""
    return publish_policy_files()


@pytest.fixture
def customer_payload() -> Callable[..., dict[str, Any]]:
    """Creator of a valid POST /customers body with a fresh email address."""
    import uuid

    def payload(**overrides: Any) -> dict[str, Any]:
        body = {"email": f"api-{uuid.uuid4().hex[:10]}@example.org", "name": "Ada Example",
                "phone": "+44 20 7946 0958", "date_of_birth": "1985-04-12",
                "preferences": {"channels": ["email"], "language": "en", "topics": ["garden"]}}
        body.update(overrides)
        return body

    return payload
