"""Security headers on every kind of response, and the client's scheme behind a trusted proxy."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import request

import consentmgr
from consentmgr import create_app
from consentmgr.config import ConfigError
from consentmgr.web.headers import CONTENT_SECURITY_POLICY, STRICT_TRANSPORT_SECURITY
from tests.conftest import base_config

EVERY_RESPONSE = {
    "X-Content-Type-Options": "nosniff",
    "Permissions-Policy": None,  # present; its value is checked below
    "Cross-Origin-Opener-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
}
REFERRER_POLICIES = {"same-origin", "no-referrer", "strict-origin", "same-origin, no-referrer"}

# (what it is, method, path, expected status, expected content type)
ROUTE_KINDS = [
    ("public page", "GET", "/", 200, "text/html"),
    ("portal page", "GET", "/portal/sign-in", 200, "text/html"),
    ("staff page", "GET", "/staff/sign-in", 200, "text/html"),
    ("API JSON", "GET", "/api/v1/ping", 200, "application/json"),
    ("API problem", "GET", "/api/v1/customers/0b7d6a1e-3f6c-4d53-9f4a-1b2c3d4e5f60", 401,
     "application/problem+json"),
    ("API unknown address", "GET", "/api/v1/nothing-here", 404, "application/problem+json"),
    ("HTML 404", "GET", "/no-such-page", 404, "text/html"),
    ("HTML 405", "DELETE", "/", 405, "text/html"),
    ("redirect", "GET", "/portal/", 302, "text/html"),
    ("static file", "GET", "/static/site.css", 200, "text/css"),
    ("liveness", "GET", "/healthz", 200, "application/json"),
    ("OpenAPI JSON", "GET", "/api/openapi.json", 200, "application/json"),
    ("API docs page", "GET", "/api/", 200, "text/html"),
    ("sign-in link page", "GET", "/portal/sign-in/not-a-real-token", 400, "text/html"),
]


def assert_security_headers(response: Any) -> None:
    """Every header every response must carry."""
    for name, value in EVERY_RESPONSE.items():
        assert name in response.headers, name
        if value is not None:
            assert response.headers[name] == value, name
    assert response.headers["Referrer-Policy"] in REFERRER_POLICIES
    for feature in ("camera=()", "microphone=()", "geolocation=()", "payment=()"):
        assert feature in response.headers["Permissions-Policy"]


@pytest.mark.parametrize("kind, method, path, status, mimetype", ROUTE_KINDS,
                         ids=[kind for kind, *_ in ROUTE_KINDS])
def test_every_route_kind_carries_the_security_headers(client, kind, method, path, status,
                                                       mimetype):
    response = client.open(path, method=method)
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == mimetype
    assert_security_headers(response)


def test_an_oversized_form_gets_the_headers_on_its_413_page(client):
    response = client.post("/portal/sign-in", data={"email": "x" * 100_000})
    assert response.status_code == 413
    assert_security_headers(response)


def test_the_policy_allows_no_inline_script_or_style_and_no_framing():
    directives = dict(part.strip().split(" ", 1) for part in CONTENT_SECURITY_POLICY.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert directives["frame-ancestors"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert directives["form-action"] == "'self'"
    assert directives["object-src"] == "'none'"


def test_templates_hold_no_inline_script_style_or_event_handler():
    # The CSP forbids them: one slipped into a template would silently not work.
    inline = re.compile(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=|javascript:", re.I)
    templates = Path(consentmgr.__file__).parent / "templates"
    found = [f"{path.relative_to(templates)}: {match.group()}"
             for path in sorted(templates.rglob("*.html"))
             for match in inline.finditer(path.read_text(encoding="utf-8"))]
    assert found == []


def test_a_stricter_referrer_policy_set_by_a_view_is_kept(client):
    # The sign-in link page has the token in its URL: no-referrer, not same-origin.
    response = client.get("/portal/sign-in/not-a-real-token")
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert client.get("/").headers["Referrer-Policy"] == "same-origin"


def test_no_hsts_over_plain_http(client):
    assert "Strict-Transport-Security" not in client.get("/").headers


@pytest.fixture
def production_app(tmp_path):
    """A production app behind one trusted proxy (no database needed for /healthz)."""
    def build(**extra: Any):
        config = base_config(f"sqlite:///{tmp_path / 'prod.db'}", str(tmp_path / "instance"),
                             CONSENTMGR_ENV="production", **extra)
        return create_app(config)
    return build


def test_production_behind_a_tls_proxy_sends_hsts(production_app):
    client = production_app(CONSENTMGR_TRUSTED_PROXIES="1").test_client()
    response = client.get("/healthz", headers={"X-Forwarded-Proto": "https",
                                               "X-Forwarded-For": "203.0.113.9"})
    assert response.headers["Strict-Transport-Security"] == STRICT_TRANSPORT_SECURITY
    assert_security_headers(response)


def test_production_over_plain_http_sends_no_hsts(production_app):
    client = production_app(CONSENTMGR_TRUSTED_PROXIES="1").test_client()
    assert "Strict-Transport-Security" not in client.get("/healthz").headers


def test_forwarded_headers_are_ignored_without_trusted_proxies(production_app):
    # A client cannot claim https (or another address) by sending the headers itself.
    client = production_app().test_client()
    response = client.get("/healthz", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in response.headers


def test_trusted_proxy_hops_decide_the_client_address(production_app):
    app = production_app(CONSENTMGR_TRUSTED_PROXIES="1")
    seen: list[str | None] = []

    @app.before_request
    def remember_address() -> None:
        seen.append(request.remote_addr)

    app.test_client().get("/healthz", headers={"X-Forwarded-For": "198.51.100.7, 203.0.113.9"},
                          environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert seen == ["203.0.113.9"]  # the last hop, the one our proxy added


def test_trusted_proxies_must_be_a_small_whole_number(tmp_path):
    with pytest.raises(ConfigError, match="CONSENTMGR_TRUSTED_PROXIES"):
        create_app(base_config(f"sqlite:///{tmp_path / 'x.db'}", str(tmp_path),
                               CONSENTMGR_TRUSTED_PROXIES="many"))
