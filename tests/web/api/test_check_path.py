"""The consent check's short path (web/api/check_path.py): the plain 200 as Flask would answer it,
everything else left to Flask."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Response

from consentmgr.consent import services as consent
from consentmgr.web.api.check_path import ConsentCheckPath
from consentmgr.web.headers import STRICT_TRANSPORT_SECURITY
from tests.conftest import TEST_ACTOR
from tests.web.api.conftest import assert_problem
from tests.web.test_request_log import logs  # noqa: F401 - the fixture

PURPOSE = "marketing-email"


def short_path(app) -> ConsentCheckPath:
    """The short path in ``app``'s WSGI chain (under a proxy fix, if there is one)."""
    layer = app.wsgi_app
    while not isinstance(layer, ConsentCheckPath):
        layer = layer.app
    return layer


def _url(customer_id: Any, purpose: str = PURPOSE) -> str:
    return f"/api/v1/customers/{customer_id}/consents/{purpose}"


@pytest.fixture
def used(client, bearer):
    """``bearer``'s first call made (Flask records a client's use; later checks take the short path)."""
    assert_problem(client.get(_url(uuid.uuid4()), headers=bearer), 404)
    return bearer


def test_the_plain_check_is_answered_as_flask_answers_it(app, client, used, policy, create_customer):
    customer = create_customer()
    consent.grant_consent(customer, PURPOSE, actor=TEST_ACTOR, channel="import")
    path = short_path(app)
    before = path.answered

    short = client.get(_url(customer.id), headers=used)
    flask_only = Client(path.flask_app, Response).get(_url(customer.id), headers=used)

    assert path.answered == before + 1
    assert short.status_code == flask_only.status_code == 200
    assert short.get_json() == flask_only.get_json()
    assert short.get_json()["allowed"] is True

    def headers(response):
        return sorted((k, v) for k, v in response.headers.items() if k != "X-Request-ID")

    assert headers(short) == headers(flask_only)
    assert short.headers["X-Request-ID"] != flask_only.headers["X-Request-ID"]


def test_a_withdrawal_is_answered_at_once(app, client, used, policy, create_customer):
    customer = create_customer()
    consent.grant_consent(customer, PURPOSE, actor=TEST_ACTOR, channel="import")
    assert client.get(_url(customer.id), headers=used).get_json()["allowed"] is True
    consent.withdraw_consent(customer, PURPOSE, actor=TEST_ACTOR, channel="import")
    assert client.get(_url(customer.id), headers=used).get_json()["allowed"] is False


@pytest.mark.parametrize("case", [
    "no key", "unknown key", "no consent:read", "unknown customer", "unknown purpose",
    "upper-case id", "query string", "HEAD",
])
def test_every_other_case_is_left_to_flask(app, client, create_api_client, used, policy,
                                           create_customer, case):
    customer = create_customer()
    _client, read_only_feed = create_api_client(scopes=["events:read"], name="feed")
    client.get("/api/v1/events", headers={"Authorization": f"Bearer {read_only_feed}"})
    path = short_path(app)
    before = path.answered

    url, headers, method = _url(customer.id), used, "GET"
    if case == "no key":
        headers = {}
    elif case == "unknown key":
        headers = {"Authorization": "Bearer cm_" + "x" * 40}
    elif case == "no consent:read":
        headers = {"Authorization": f"Bearer {read_only_feed}"}
    elif case == "unknown customer":
        url = _url(uuid.uuid4())
    elif case == "unknown purpose":
        url = _url(customer.id, "no-such-purpose")
    elif case == "upper-case id":
        url = _url(str(customer.id).upper())
    elif case == "query string":
        url += "?verbose=1"
    elif case == "HEAD":
        method = "HEAD"
    response = client.open(url, method=method, headers=headers)

    assert path.answered == before
    expected = {"no key": 401, "unknown key": 401, "no consent:read": 403, "unknown customer": 404,
                "unknown purpose": 404, "upper-case id": 200, "query string": None, "HEAD": 200}[case]
    if expected in (401, 403, 404):
        assert_problem(response, expected)
    elif expected is not None:
        assert response.status_code == expected
    else:  # whatever Flask makes of it, never a 500
        assert response.status_code < 500


def test_a_clients_first_use_is_recorded_by_flask_then_the_short_path_answers(
        app, client, db, create_api_client, policy, create_customer):
    from consentmgr.apiclients.models import ApiClient

    customer = create_customer()
    api_client, key = create_api_client(name="first-use")
    headers = {"Authorization": f"Bearer {key}"}
    path = short_path(app)
    before = path.answered

    assert client.get(_url(customer.id), headers=headers).status_code == 200
    assert path.answered == before  # due: Flask answered and recorded the use
    db.session.expire_all()
    assert db.session.get(ApiClient, api_client.id).last_used_at is not None
    assert client.get(_url(customer.id), headers=headers).status_code == 200
    assert path.answered == before + 1


def test_over_the_limit_the_answer_is_flasks_429(app, client, used, policy, create_customer,
                                                monkeypatch):
    customer = create_customer()
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "3 per minute")
    path = short_path(app)

    statuses = [client.get(_url(customer.id), headers=used).status_code for _ in range(4)]
    answered = path.answered

    assert statuses == [200, 200, 200, 429]
    response = client.get(_url(customer.id), headers=used)
    assert_problem(response, 429)
    assert int(response.headers["Retry-After"]) >= 1
    assert path.answered == answered  # refused requests are Flask's


def test_the_request_id_and_the_log_line_are_flasks(client, used, policy, create_customer,
                                                   logs):  # noqa: F811 - the fixture
    customer = create_customer()
    response = client.get(_url(customer.id), headers={**used, "X-Request-ID": "check-run-0042"})

    assert response.headers["X-Request-ID"] == "check-run-0042"
    line = logs.access()[-1]
    assert line["request_id"] == "check-run-0042"
    assert line["route"] == "/api/v1/customers/<uuid:customer_id>/consents/<purpose>"
    assert (line["method"], line["status"]) == ("GET", 200)
    assert str(customer.id) not in logs.text()


def test_a_database_outage_is_left_to_flask(app, client, used, policy, create_customer,
                                            monkeypatch):
    import sqlalchemy as sa

    customer = create_customer()
    path = short_path(app)
    before = path.answered

    def unavailable(*args, **kwargs):
        raise sa.exc.TimeoutError("no pooled connection came free")  # an outage, to Flask too

    monkeypatch.setattr(consent, "check_consent", unavailable)
    response = client.get(_url(customer.id), headers=used)

    assert path.answered == before
    assert response.status_code == 503


def test_production_over_https_sends_hsts_like_flask(app, client, used, policy, create_customer,
                                                     monkeypatch):
    import dataclasses

    from consentmgr.runtime import runtime

    customer = create_customer()
    state = runtime(app)
    monkeypatch.setattr(state, "settings", dataclasses.replace(state.settings, env="production"))
    path = short_path(app)
    before = path.answered
    https = "https://localhost"

    short = client.get(_url(customer.id), headers=used, base_url=https)
    flask_only = Client(path.flask_app, Response).get(_url(customer.id), headers=used,
                                                      base_url=https)
    plain = client.get(_url(customer.id), headers=used)

    assert path.answered == before + 2
    assert short.headers["Strict-Transport-Security"] == STRICT_TRANSPORT_SECURITY
    assert flask_only.headers["Strict-Transport-Security"] == STRICT_TRANSPORT_SECURITY
    assert "Strict-Transport-Security" not in plain.headers
