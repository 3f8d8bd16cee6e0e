"""The API blueprint (``/api/v1``) and helpers to document its problem responses."""

from __future__ import annotations

import json
from typing import Any, Callable

import marshmallow as ma
from flask_smorest import Blueprint
from webargs.core import missing
from webargs.flaskparser import FlaskParser, is_json_request

from consentmgr.errors import ValidationFailed, flatten_messages
from consentmgr.web.api.errors import PROBLEM_JSON, MalformedRequest
from consentmgr.web.api.schemas import ProblemSchema

PROBLEM_DESCRIPTIONS = {
    400: "Malformed JSON or header",
    401: "Missing, unknown or revoked API key",
    403: "The key lacks the scope this operation needs",
    404: "Not found",
    409: "Conflict with the record's state, a concurrent change, or a reused Idempotency-Key",
    413: "Body too large",
    415: "Body is not JSON",
    422: "Invalid input: see 'errors'",
    429: "Rate limit exceeded: see Retry-After",
}


# Where webargs found a value; its messages come nested under the location.
_LOCATIONS = frozenset({"json", "query", "querystring", "headers", "view_args", "path"})


def field_errors(messages: Any) -> dict[str, list[str]]:
    """webargs' messages as ``{"field.sub": [...]}`` (see ``consentmgr.errors.flatten_messages``).

    The location level (``json``, ``query``) is dropped: field names do not
    clash between locations here.
    """
    if isinstance(messages, dict) and set(messages) <= _LOCATIONS:
        flat: dict[str, list[str]] = {}
        for inner in messages.values():
            flat.update(flatten_messages(inner))
        return flat
    return flatten_messages(messages)


def _no_constants(name: str) -> Any:
    raise json.JSONDecodeError(f"{name} is not valid JSON", name, 0)


class ApiParser(FlaskParser):
    """webargs parser that speaks problem+json and is strict.

    Unknown query parameters are errors like unknown body fields (a typo
    such as ``?histroy=true`` must not be silently ignored), and the JSON
    extensions ``NaN``/``Infinity`` are refused.
    """

    DEFAULT_UNKNOWN_BY_LOCATION = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": ma.RAISE,
        "querystring": ma.RAISE,
    }

    def _raw_load_json(self, req: Any) -> Any:
        if not is_json_request(req):
            return missing
        data = req.get_data(cache=True)
        if not data.strip():
            return missing  # webargs then loads {}: required fields are reported
        return json.loads(data.decode("utf-8"), parse_constant=_no_constants)

    def _handle_invalid_json_error(self, error: Any, req: Any, *args: Any, **kwargs: Any) -> Any:
        raise MalformedRequest("The request body is not valid JSON.")

    def handle_error(self, error: ma.ValidationError, req: Any, schema: Any, *,
                     error_status_code: int | None, error_headers: Any) -> Any:
        raise ValidationFailed(field_errors(error.messages))


class ApiBlueprint(Blueprint):
    """flask-smorest's Blueprint with the strict parser."""

    ARGUMENTS_PARSER = ApiParser()


blp = ApiBlueprint(
    "api", __name__, url_prefix="/api/v1",
    description="The JSON API for the company's other systems.",
)


def problems(*statuses: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Document the problem responses an operation can give."""

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        documented = func
        for status in statuses:
            documented = blp.alt_response(status, schema=ProblemSchema, content_type=PROBLEM_JSON,
                                          description=PROBLEM_DESCRIPTIONS[status])(documented)
        # Keep the documentation, not the wrappers: each alt_response adds a
        # call layer that only passes the call on (per request, per status).
        func._apidoc = documented._apidoc  # type: ignore[attr-defined]
        return func

    return decorator
