"""Body limits on every route, and the API's limit on JSON nesting."""

from __future__ import annotations

import io
import json
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consentmgr.apiclients.services import SCOPES, create_client
from consentmgr.config import ConfigError, load_settings
from consentmgr.web.limits import (
    DEFAULT_FORM_MAX_CONTENT_LENGTH,
    MAX_JSON_DEPTH,
    json_depth_exceeds,
)
from tests.conftest import TEST_ACTOR

FIFTY_MB = 50 * 1024 * 1024
PROBLEM_JSON = "application/problem+json"


class CountingStream(io.RawIOBase):
    """A request body of ``size`` bytes, produced only as far as it is read; counts what is read."""

    def __init__(self, size: int, fill: bytes = b"a") -> None:
        self.size = size
        self.fill = fill
        self.position = 0
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True  # werkzeug's test client measures the stream (no reading involved)

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = base + offset
        return self.position

    def readinto(self, buffer) -> int:  # noqa: ANN001
        count = max(0, min(len(buffer), self.size - self.position))
        buffer[:count] = self.fill * count
        self.position += count
        self.read_bytes += count
        return count


@pytest.fixture
def bearer(db):
    """An Authorization header for a key with every scope."""
    _client, key = create_client("shop", SCOPES, actor=TEST_ACTOR)
    db.session.commit()
    return {"Authorization": f"Bearer {key}"}


# ------------------------------------------------------------------ body size


def test_a_50_mb_multipart_upload_to_the_sign_in_form_is_refused_unread(client):
    body = CountingStream(FIFTY_MB)
    response = client.post("/portal/sign-in", input_stream=body, content_length=FIFTY_MB,
                           content_type="multipart/form-data; boundary=xyz")
    assert response.status_code == 413
    assert response.mimetype == "text/html"
    assert "too large" in response.get_data(as_text=True)
    assert body.read_bytes < DEFAULT_FORM_MAX_CONTENT_LENGTH  # refused on Content-Length


def test_a_chunked_upload_is_cut_off_at_the_form_limit(client):
    body = CountingStream(FIFTY_MB)
    response = client.post("/portal/sign-in", input_stream=body,
                           content_type="multipart/form-data; boundary=xyz",
                           environ_overrides={"wsgi.input_terminated": True,
                                              "CONTENT_LENGTH": ""})  # as a chunked upload
    assert response.status_code == 413
    # Read up to the limit (nothing told the size in advance), and no further.
    assert 0 < body.read_bytes <= DEFAULT_FORM_MAX_CONTENT_LENGTH


def test_a_form_just_over_the_limit_is_refused_everywhere(client):
    for path in ("/portal/sign-in", "/staff/sign-in"):
        response = client.post(path, data={"email": "x" * DEFAULT_FORM_MAX_CONTENT_LENGTH})
        assert response.status_code == 413, path
        assert response.mimetype == "text/html"


def test_a_normal_form_is_unaffected(client):
    response = client.get("/portal/sign-in")
    assert response.status_code == 200


def test_the_form_limit_is_configurable(tmp_path):
    settings = load_settings({"CONSENTMGR_FORM_MAX_CONTENT_LENGTH": "1024"}, tmp_path)
    assert settings.tuning["FORM_MAX_CONTENT_LENGTH"] == 1024
    with pytest.raises(ConfigError, match="CONSENTMGR_FORM_MAX_CONTENT_LENGTH"):
        load_settings({"CONSENTMGR_FORM_MAX_CONTENT_LENGTH": "0"}, tmp_path)


def test_the_api_keeps_its_own_larger_limit(client, bearer):
    # 200 KiB is over the forms' limit but well under the API's 1 MiB.
    body = json.dumps({"email": "big@example.org", "name": "n" * 200_000})
    response = client.post("/api/v1/customers", data=body, headers=bearer,
                           content_type="application/json")
    assert response.status_code != 413
    assert response.status_code == 422  # the name is too long: a field error, not a size one


def test_an_api_body_over_its_limit_is_a_413_problem(client, bearer):
    body = CountingStream(FIFTY_MB, fill=b" ")
    response = client.post("/api/v1/customers", input_stream=body, content_length=FIFTY_MB,
                           headers=bearer, content_type="application/json")
    assert response.status_code == 413
    assert response.mimetype == PROBLEM_JSON
    assert response.get_json()["type"].endswith("#problem-payload-too-large")
    assert body.read_bytes == 0


# ------------------------------------------------------------------ JSON depth


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [5_000, 100_000])
@pytest.mark.parametrize("path", ["/api/v1/customers", "/api/v1/consent-checks"])
def test_deeply_nested_json_is_a_400_problem_not_a_500(client, bearer, caplog, path, depth):
    with caplog.at_level(logging.WARNING):
        response = client.post(path, data=nested(depth), headers=bearer,
                               content_type="application/json")
    assert response.status_code == 400
    assert response.mimetype == PROBLEM_JSON
    problem = response.get_json()
    assert problem["type"].endswith("#problem-malformed-request")
    assert f"nested more than {MAX_JSON_DEPTH} levels" in problem["detail"]
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def test_deep_nesting_inside_a_field_is_refused_too(client, bearer):
    body = '{"email": "a@example.org", "preferences": {"topics": ' + nested(10_000) + "}}"
    response = client.post("/api/v1/customers", data=body, headers=bearer,
                           content_type="application/json")
    assert response.status_code == 400


def test_json_at_the_depth_limit_reaches_validation(client, bearer):
    body = '{"email": "a@example.org", "name": "A", "preferences": {"topics": ' + nested(
        MAX_JSON_DEPTH - 2) + "}}"
    response = client.post("/api/v1/customers", data=body, headers=bearer,
                           content_type="application/json")
    assert response.status_code == 422  # the schema's answer: the depth check let it through


def test_depth_counts_brackets_outside_strings_only():
    assert not json_depth_exceeds(b'{"note": "' + b"[" * 100 + b'"}', 32)
    assert not json_depth_exceeds(b'["\\"' + b"[" * 100 + b'"]', 32)  # an escaped quote
    assert not json_depth_exceeds(b'["\\\\", ' + b"[]," * 100 + b"1]", 32)  # wide, not deep
    assert json_depth_exceeds(b'["\\\\", ' + nested(33).encode() + b"]", 32)
    assert not json_depth_exceeds(nested(32).encode(), 32)
    assert json_depth_exceeds(nested(33).encode(), 32)
    assert json_depth_exceeds(b'{"a":' * 40 + b"1" + b"}" * 40, 32)


def parsed_depth(value: object) -> int:
    """How deep arrays and objects nest in a parsed JSON value (the reference)."""
    if isinstance(value, list):
        return 1 + max(map(parsed_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(parsed_depth, value.values()), default=0)
    return 0


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab,:'),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.text(alphabet='[]{}"\\ab', max_size=3), inner, max_size=3),
    max_leaves=40)


@given(JSON_VALUES, st.integers(min_value=0, max_value=6))
def test_depth_check_agrees_with_the_parsed_depth(value, limit):
    for text in (json.dumps(value), json.dumps(value, indent=1), json.dumps(value,
                                                                            ensure_ascii=False)):
        assert json_depth_exceeds(text.encode(), limit) == (parsed_depth(value) > limit), text


def test_unclosed_openers_are_refused_too():
    # A parser recurses into each before it finds the body truncated.
    assert json_depth_exceeds(b"[" * 5000, 32)
    assert not json_depth_exceeds(b"[1, [2", 32)
