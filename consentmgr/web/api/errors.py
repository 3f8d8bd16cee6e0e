"""Every API error as RFC 9457 ``application/problem+json``, decided in one place.

HTTP errors (routing, size limits, rate limits), domain errors raised by the
services and validation errors from the schemas all end here. Details are
fixed, data-free sentences or the service's own message (which never holds
personal data); request values are never echoed, only field names.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Mapping

import sqlalchemy as sa
from flask import Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException

from consentmgr.apiclients.services import InvalidApiKey, ScopeMissing
from consentmgr.errors import Conflict, DomainError, NotFound
from consentmgr.runtime import runtime
from consentmgr.web.outage import is_database_outage, log_outage, mark_unavailable, retry_after

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
API_PATH = "/api"


@dataclass(frozen=True)
class ProblemType:
    """One kind of problem: its stable slug, title and what the client should do."""

    slug: str
    status: int
    title: str
    advice: str


PROBLEM_TYPES: dict[str, ProblemType] = {
    p.slug: p
    for p in (
        ProblemType("malformed-request", 400, "Malformed request",
                    "The body is not valid JSON, or a header is malformed. Fix the request; "
                    "retrying it unchanged will fail again."),
        ProblemType("unauthenticated", 401, "Unauthenticated",
                    "Send a valid, unrevoked key as 'Authorization: Bearer <key>'."),
        ProblemType("insufficient-scope", 403, "Insufficient scope",
                    "The key is valid but lacks the scope named in the detail; ask an "
                    "operator for a key with that scope."),
        ProblemType("not-found", 404, "Not found",
                    "Nothing exists at this address, or the customer, policy version or "
                    "purpose named does not exist."),
        ProblemType("method-not-allowed", 405, "Method not allowed",
                    "The resource exists but not with this method; the Allow header lists "
                    "the methods it supports."),
        ProblemType("conflict", 409, "Conflict",
                    "The change conflicts with the record's state (erased, say) or with "
                    "a concurrent change. Re-read the resource before retrying."),
        ProblemType("restricted", 409, "Processing restricted",
                    "The customer has restricted the processing of their data (GDPR Art. 18): "
                    "the record is kept but may not be read, exported or changed through the "
                    "API until the restriction is lifted. Consent checks answer 'restricted'; "
                    "do not use the data meanwhile."),
        ProblemType("idempotency-key-reused", 409, "Idempotency key reused",
                    "This Idempotency-Key was already used with a different request. Use a "
                    "new key for a new request."),
        ProblemType("payload-too-large", 413, "Payload too large",
                    "The body is larger than the API accepts (1 MiB by default)."),
        ProblemType("unsupported-media-type", 415, "Unsupported media type",
                    "Send the body as JSON with 'Content-Type: application/json'."),
        ProblemType("invalid-input", 422, "Invalid input",
                    "Some fields are invalid; 'errors' maps each field to its messages. "
                    "Unknown fields are rejected too."),
        ProblemType("rate-limited", 429, "Too many requests",
                    "Slow down: wait the number of seconds in the Retry-After header."),
        ProblemType("server-error", 500, "Server error",
                    "Something failed on our side. It has been logged; retry later."),
        ProblemType("unavailable", 503, "Service unavailable",
                    "The database cannot be reached for the moment; nothing was changed. "
                    "Retry after the number of seconds in the Retry-After header."),
    )
}

_SLUG_BY_STATUS = {
    400: "malformed-request", 401: "unauthenticated", 403: "insufficient-scope",
    404: "not-found", 405: "method-not-allowed", 409: "conflict", 413: "payload-too-large",
    415: "unsupported-media-type", 422: "invalid-input", 429: "rate-limited", 500: "server-error",
    503: "unavailable",
}

_HTTP_DETAILS = {
    400: "The request could not be understood.",
    404: "There is nothing at this address.",
    405: "This resource does not support that method.",
    413: "The request body is too large.",
    415: "Send the body as JSON, with 'Content-Type: application/json'.",
    429: "Too many requests for this client; slow down.",
    500: "Something went wrong on our side. It has been logged; please retry later.",
    503: "The service is unavailable for a moment; nothing was changed. Retry later.",
}


class MalformedRequest(DomainError):
    """The body is not JSON, or a header is malformed."""

    status = 400
    title = "Malformed request"


class UnsupportedMediaType(DomainError):
    """A body was sent in something other than JSON."""

    status = 415
    title = "Unsupported media type"

    def __init__(self) -> None:
        super().__init__(_HTTP_DETAILS[415])


def is_api_request() -> bool:
    """True for requests under ``/api`` (the JSON audience)."""
    path = request.path
    return path == API_PATH or path.startswith(API_PATH + "/")


def type_uri(slug: str) -> str:
    """The problem type URI: the API page's explanation of it."""
    base = runtime().settings.base_url
    return f"{base}/api/#problem-{slug}"


def problem(
    status: int,
    detail: str,
    *,
    slug: str | None = None,
    errors: Mapping[str, list[str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """An ``application/problem+json`` response."""
    if slug not in PROBLEM_TYPES:
        slug = _SLUG_BY_STATUS.get(status)
    if slug is not None:
        title = PROBLEM_TYPES[slug].title
        type_ = type_uri(slug)
    else:
        title = _phrase(status)
        type_ = "about:blank"
    body: dict[str, Any] = {"type": type_, "title": title, "status": status, "detail": detail,
                            "instance": request.path}
    if errors is not None:
        body["errors"] = {field: list(messages) for field, messages in errors.items()}
    response = current_app.response_class(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def handle_http_exception(exc: HTTPException) -> Response:
    """Routing, size, method and rate-limit errors as problems."""
    status = exc.code or 500
    original = getattr(exc, "original_exception", None)
    if status == 500 and original is not None and is_database_outage(original):
        return handle_outage(original)  # raised where no handler runs (opening the session)
    headers: dict[str, str] = {}
    if status == 405:
        valid = getattr(exc, "valid_methods", None) or []
        headers["Allow"] = ", ".join(sorted(valid))
    elif status == 429:
        retry_after = getattr(exc, "retry_after", None)
        headers["Retry-After"] = str(retry_after if isinstance(retry_after, int) else 1)
    elif status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="consentmgr"'
    if status >= 500:
        log.error("HTTP %s on the API", status)
    return problem(status, _HTTP_DETAILS.get(status, _phrase(status) + "."), headers=headers)


def handle_domain_error(exc: DomainError) -> Response:
    """A service's refusal: its status, its message, its per-field errors."""
    headers: dict[str, str] = {}
    if isinstance(exc, InvalidApiKey):
        # RFC 6750 §3: no error code when no credentials were sent at all.
        headers["WWW-Authenticate"] = (
            'Bearer realm="consentmgr"' if exc.reason == "missing"
            else 'Bearer realm="consentmgr", error="invalid_token"')
    elif isinstance(exc, ScopeMissing):
        headers["WWW-Authenticate"] = (
            f'Bearer realm="consentmgr", error="insufficient_scope", scope="{exc.scope}"')
    errors = getattr(exc, "errors", None)
    status = exc.status
    if isinstance(exc, NotFound):
        status = 404
    elif isinstance(exc, Conflict):
        status = 409
    return problem(status, str(exc), slug=getattr(exc, "problem", None), errors=errors,
                   headers=headers)


def handle_integrity_error(exc: sa.exc.IntegrityError) -> Response:
    """A concurrent change won a race on a unique value: a conflict, not a crash.

    The request's unit of work is rolled back when it ends (a status of 400 or more).
    """
    return problem(409, "The change conflicts with a concurrent change; re-read and retry.")


def handle_unexpected(exc: Exception) -> Response:
    """Anything else: logged (no values: SQL parameters are hidden at the engine), a 500 problem.

    A database outage is a 503 with ``Retry-After`` instead, logged in one line.
    """
    if is_database_outage(exc):
        return handle_outage(exc)
    log.exception("unhandled %s on the API", type(exc).__name__)
    return problem(500, _HTTP_DETAILS[500])


def handle_outage(exc: BaseException) -> Response:
    """The database is unreachable: 503 ``unavailable``; the unit of work has rolled back."""
    log_outage(exc)
    mark_unavailable()
    return problem(503, _HTTP_DETAILS[503], headers={"Retry-After": retry_after()})


def handle_api_exception(exc: Exception) -> Response:
    """Dispatch any exception raised under ``/api`` to its problem response."""
    if isinstance(exc, HTTPException):
        return handle_http_exception(exc)
    if isinstance(exc, DomainError):
        return handle_domain_error(exc)
    if isinstance(exc, sa.exc.IntegrityError):
        return handle_integrity_error(exc)
    return handle_unexpected(exc)


def register_problem_handlers(app: Flask, blueprint: Any) -> None:
    """Install the handlers on the API blueprint (they win over the app's HTML pages there)."""
    blueprint.register_error_handler(HTTPException, handle_http_exception)
    blueprint.register_error_handler(DomainError, handle_domain_error)
    blueprint.register_error_handler(sa.exc.IntegrityError, handle_integrity_error)
    blueprint.register_error_handler(Exception, handle_unexpected)
