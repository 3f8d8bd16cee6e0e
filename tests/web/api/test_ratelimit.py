"""The API rate limit counts per verified client; anything unverified counts per address."""

from __future__ import annotations

import secrets
import threading
import time
import uuid

import pytest
from flask import request
from limits import parse
from limits.strategies import FixedWindowRateLimiter

from consentmgr.apiclients.auth import KEY_MARKER
from consentmgr.extensions import SweptMemoryStorage, limiter
from tests.web.api.conftest import assert_problem

LIMIT = 3


@pytest.fixture
def limited(app, monkeypatch):
    """The shared app with ``LIMIT`` calls a minute, and a fresh address for this test."""
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", f"{LIMIT} per minute")
    address = f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250)}"
    return {"REMOTE_ADDR": address}


def _random_bearer() -> dict[str, str]:
    return {"Authorization": f"Bearer {KEY_MARKER}{secrets.token_urlsafe(32)}"}


def test_random_bearer_strings_count_against_the_address(client, limited):
    statuses = [client.get("/api/v1/ping", headers=_random_bearer(),
                           environ_base=limited).status_code for _ in range(LIMIT + 2)]
    assert statuses == [200] * LIMIT + [429, 429]


def test_random_bearer_strings_on_a_protected_operation_are_limited_too(client, limited):
    path = f"/api/v1/customers/{uuid.uuid4()}/consents/marketing-email"
    statuses = [client.get(path, headers=_random_bearer(), environ_base=limited).status_code
                for _ in range(LIMIT + 1)]
    assert statuses == [401] * LIMIT + [429]
    assert_problem(client.get(path, headers=_random_bearer(), environ_base=limited), 429)


def test_malformed_and_missing_credentials_share_the_address_window(client, limited):
    headers = [{}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer not-a-key"}]
    statuses = [client.get("/api/v1/ping", headers=h, environ_base=limited).status_code
                for h in headers]
    assert statuses == [200] * LIMIT
    assert client.get("/api/v1/ping", environ_base=limited).status_code == 429


def test_a_valid_key_is_limited_per_key(client, limited, create_api_client):
    _, key = create_api_client()
    bearer = {"Authorization": f"Bearer {key}"}
    statuses = [client.get("/api/v1/ping", headers=bearer, environ_base=limited).status_code
                for _ in range(LIMIT + 1)]
    assert statuses == [200] * LIMIT + [429]


def test_two_valid_keys_from_one_address_have_separate_windows(client, limited, create_api_client):
    first = {"Authorization": f"Bearer {create_api_client(name='shop')[1]}"}
    second = {"Authorization": f"Bearer {create_api_client(name='crm')[1]}"}
    for _ in range(LIMIT):
        assert client.get("/api/v1/ping", headers=first, environ_base=limited).status_code == 200
    assert client.get("/api/v1/ping", headers=first, environ_base=limited).status_code == 429
    assert client.get("/api/v1/ping", headers=second, environ_base=limited).status_code == 200
    # ... and neither used the address's own window.
    assert client.get("/api/v1/ping", environ_base=limited).status_code == 200


def test_a_valid_key_is_not_limited_by_random_tokens_from_its_address(client, limited,
                                                                      create_api_client):
    bearer = {"Authorization": f"Bearer {create_api_client()[1]}"}
    for _ in range(LIMIT + 1):
        client.get("/api/v1/ping", headers=_random_bearer(), environ_base=limited)
    assert client.get("/api/v1/ping", headers=bearer, environ_base=limited).status_code == 200


def test_every_api_429_carries_retry_after(client, limited, create_api_client):
    bearer = {"Authorization": f"Bearer {create_api_client()[1]}"}
    for headers in (bearer, _random_bearer()):
        for _ in range(LIMIT):
            client.get("/api/v1/ping", headers=headers, environ_base=limited)
        response = client.get("/api/v1/ping", headers=headers, environ_base=limited)
        assert_problem(response, 429, "rate-limited")
        assert 1 <= int(response.headers["Retry-After"]) <= 61


def test_the_in_process_storage_is_the_swept_one_and_starts_no_thread(app):
    storage = limiter.limiter.storage
    assert isinstance(storage, SweptMemoryStorage)
    threads = threading.active_count()
    counter = FixedWindowRateLimiter(SweptMemoryStorage())
    item = parse("1000 per minute")
    for _ in range(5):
        for _hit in range(20):
            assert counter.hit(item, "test", "k")
        time.sleep(0.012)  # past limits' own 10 ms timer interval
    assert threading.active_count() <= threads  # not one thread per hit, nor per 10 ms
    assert counter.get_window_stats(item, "test", "k").remaining == 1000 - 100


def test_the_swept_storage_frees_windows_nobody_asks_for_again():
    storage = SweptMemoryStorage()
    storage.SWEEP_EVERY = 0.0  # sweep on every hit, for the test
    storage._next_sweep = 0.0
    storage.incr("forgotten", 0.01)
    time.sleep(0.02)
    storage.incr("another", 60)
    assert "forgotten" not in storage.storage  # swept: its window ended
    assert storage.get("another") == 1


def test_flask_limiters_own_hook_steps_aside_for_the_api_only(app, client, monkeypatch):
    resolved: list[str] = []
    original = limiter.identify_request

    def identify_request():
        resolved.append(request.path)
        return original()

    monkeypatch.setattr(limiter, "identify_request", identify_request)

    assert client.get("/api/v1/ping").status_code == 200
    assert client.get("/portal/sign-in").status_code == 200

    assert set(resolved) == {"/portal/sign-in"}  # the page still goes through Flask-Limiter
