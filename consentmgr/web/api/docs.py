"""The human-readable API page at ``/api/``, rendered from the OpenAPI document.

Server-side and self-contained: no Swagger UI or ReDoc from a CDN (nothing
outside the machine can be reached), no JavaScript needed. What it shows is
what ``/api/openapi.json`` says, so the page cannot drift from the schemas.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, current_app, render_template
from markdown_it import MarkdownIt
from markupsafe import Markup

from consentmgr.apiclients.services import SCOPES
from consentmgr.runtime import runtime
from consentmgr.web.api.errors import PROBLEM_TYPES

page_bp = Blueprint("api_page", __name__, url_prefix="/api")

_METHOD_ORDER = ("get", "post", "put", "patch", "delete")
# Descriptions come from our own docstrings; raw HTML is still refused.
_markdown = MarkdownIt("commonmark", {"html": False})


def _inline(text: str) -> Markup:
    """A docstring's Markdown (code spans, emphasis) as safe inline HTML."""
    # markdown-it with html=False escapes raw HTML: the output is safe markup.
    return Markup(_markdown.renderInline(text or ""))  # nosec B704

# Request bodies for the curl examples: valid, realistic, no real person.
EXAMPLE_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/api/v1/customers"): {
        "external_ref": "crm-000123", "email": "ada@example.org", "name": "Ada Example",
        "phone": "+44 20 7946 0958", "preferences": {"channels": ["email"], "language": "en",
                                                     "topics": ["garden"]},
    },
    ("patch", "/api/v1/customers/{customer_id}"): {"phone": "+44 20 7946 0000"},
    ("post", "/api/v1/customers/{customer_id}/history"): {
        "occurred_at": "2026-03-02T10:15:00Z", "channel": "web", "kind": "purchase",
        "data_category": "order-history", "summary": "Order 1234: seeds and a watering can",
    },
    ("post", "/api/v1/customers/{customer_id}/consents"): {
        "purpose": "marketing-email", "action": "granted", "channel": "api",
        "policy_version": "2026-03", "collected_at": "2026-03-02T10:14:00Z",
        "evidence": {"gpc": False, "note": "checkout form, order 1234"},
    },
    ("post", "/api/v1/requests"): {
        "customer_id": "3f2b8c1e-5d4a-4b7e-9c1d-2a6f0e8b7c55", "type": "erasure",
        "notes": "Asked by phone to close the account",
    },
    ("post", "/api/v1/requests/{request_id}/approve"): {},
    ("post", "/api/v1/requests/{request_id}/refuse"): {
        "reason_code": "legal-claims", "explanation": "Needed for a pending court case.",
    },
    ("post", "/api/v1/consent-checks"): {
        "checks": [{"customer_id": "3f2b8c1e-5d4a-4b7e-9c1d-2a6f0e8b7c55",
                    "purpose": "marketing-email"}],
    },
}
EXAMPLE_QUERIES: dict[tuple[str, str], str] = {
    ("get", "/api/v1/customers"): "?email=ada%40example.org",
    ("get", "/api/v1/events"): "?after=0&limit=100",
    ("get", "/api/v1/requests"): "?status=received&overdue=true&limit=50",
}


@dataclass
class Param:
    """A documented parameter."""

    name: str
    location: str
    required: bool
    type: str
    description: Markup


@dataclass
class ResponseDoc:
    """A documented response."""

    status: str
    description: str
    content_type: str | None
    schema: str | None


@dataclass
class Operation:
    """One operation, ready to show."""

    method: str
    path: str
    anchor: str
    summary: Markup
    description: Markup
    scope: str | None
    public: bool
    idempotent: bool
    parameters: list[Param]
    body_schema: str | None
    responses: list[ResponseDoc]
    curl: str


@dataclass
class Property:
    """A field of a schema."""

    name: str
    type: str
    required: bool
    notes: list[str] = field(default_factory=list)
    description: Markup = Markup("")
    ref: str | None = None


@dataclass
class SchemaDoc:
    """A schema of the components section."""

    name: str
    description: str
    properties: list[Property]
    closed: bool


def _ref_name(schema: dict[str, Any] | None) -> str | None:
    if not schema:
        return None
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if schema.get("type") == "array" and "items" in schema:
        inner = _ref_name(schema["items"])
        return f"array of {inner}" if inner else "array"
    return schema.get("type")


def _linked(schema: dict[str, Any] | None) -> str | None:
    """The component schema ``schema`` refers to (directly or as array items), if any."""
    if not schema:
        return None
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if schema.get("type") == "array":
        return _linked(schema.get("items"))
    return None


def _type_of(schema: dict[str, Any]) -> str:
    name = _ref_name(schema) or "any"
    if schema.get("format"):
        name += f" ({schema['format']})"
    if schema.get("nullable"):
        name += ", or null"
    return name


def _notes(schema: dict[str, Any]) -> list[str]:
    notes = []
    if "enum" in schema:
        notes.append("one of: " + ", ".join(str(v) for v in schema["enum"] if v is not None))
    if schema.get("minLength") == 1:
        notes.append("not empty")
    elif "minLength" in schema:
        notes.append(f"at least {schema['minLength']} characters")
    for key, label in (("maxLength", "at most {} characters"),
                       ("minimum", "at least {}"), ("maximum", "at most {}"),
                       ("minItems", "at least {} items"), ("maxItems", "at most {} items"),
                       ("pattern", "matches {}"), ("default", "default {}")):
        if key in schema:
            value = json.dumps(schema[key]) if key == "default" else schema[key]
            notes.append(label.format(value))
    return notes


def _curl(method: str, path: str, *, public: bool, base_url: str) -> str:
    url = base_url + path.replace("{customer_id}", "$CUSTOMER_ID").replace(
        "{request_id}", "$REQUEST_ID").replace(
        "{purpose}", "marketing-email").replace("{version}", "2026-03")
    url += EXAMPLE_QUERIES.get((method, path), "")
    lines = [f"curl -sS -X {method.upper()} \"{url}\""]
    if not public:
        lines.append('  -H "Authorization: Bearer $CONSENTMGR_API_KEY"')
    body = EXAMPLE_BODIES.get((method, path))
    if path.endswith("/export"):
        lines.append("  -o export.zip")
    if body is not None:
        lines.append('  -H "Content-Type: application/json"')
        if method == "post" and not path.endswith("consent-checks"):
            lines.append('  -H "Idempotency-Key: $(uuidgen)"')
        lines.append(f"  -d '{json.dumps(body)}'")
    return " \\\n".join(lines)


def describe(spec: dict[str, Any], base_url: str) -> dict[str, Any]:
    """The OpenAPI document as operations grouped by tag, and schemas (for the template)."""
    groups: dict[str, list[Operation]] = {}
    for path, item in spec.get("paths", {}).items():
        shared = item.get("parameters", [])
        for method in _METHOD_ORDER:
            op = item.get(method)
            if op is None:
                continue
            public = op.get("security") == []
            parameters = [
                Param(p["name"], p["in"], bool(p.get("required")), _type_of(p.get("schema", {})),
                      _inline(p["description"]) if p.get("description")
                      else Markup.escape("; ".join(_notes(p.get("schema", {})))))
                for p in [*shared, *op.get("parameters", [])]
            ]
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            responses = []
            for status, response in sorted(op.get("responses", {}).items()):
                if "$ref" in response:
                    response = spec["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
                content = response.get("content", {})
                content_type = next(iter(content), None)
                schema = _ref_name(content[content_type].get("schema")) if content_type else None
                responses.append(ResponseDoc(status, response.get("description", ""), content_type,
                                             schema))
            anchor = "op-" + method + path.replace("/api/v1", "").replace("/", "-").replace(
                "{", "").replace("}", "")
            groups.setdefault((op.get("tags") or ["Other"])[0], []).append(Operation(
                method=method.upper(), path=path, anchor=anchor, summary=_inline(op.get("summary", "")),
                description=_inline(op.get("description", "")), scope=op.get("x-scope"),
                public=public,
                idempotent=any(p["name"] == "Idempotency-Key" for p in op.get("parameters", [])),
                parameters=parameters, body_schema=_ref_name(body.get("schema")),
                responses=responses, curl=_curl(method, path, public=public, base_url=base_url),
            ))
    schemas = []
    for name, schema in sorted(spec.get("components", {}).get("schemas", {}).items()):
        required = set(schema.get("required", []))
        schemas.append(SchemaDoc(
            name=name, description=_inline(schema.get("description", "")),
            closed=schema.get("additionalProperties") is False,
            properties=[
                Property(prop, _type_of(details), prop in required, _notes(details),
                         _inline(details.get("description", "")), _linked(details))
                for prop, details in schema.get("properties", {}).items()
            ],
        ))
    return {"groups": groups, "schemas": schemas, "schema_names": {s.name for s in schemas}}


def _samples(base_url: str) -> dict[str, str]:
    """The page's commands and wire examples: code, the same in every language of the page."""
    return {
        "create_key": "flask --app wsgi api-clients create --name shop "
                      "--scopes consent:read,customers:write",
        "first_call": "export CONSENTMGR_API_KEY=cmk_...\n"
                      'curl -sS -H "Authorization: Bearer $CONSENTMGR_API_KEY" \\\n'
                      f'  "{base_url}/api/v1/customers/$CUSTOMER_ID/consents/marketing-email"',
        "revoke_key": "flask --app wsgi api-clients revoke <id>",
        "problem": "HTTP/1.1 422 UNPROCESSABLE ENTITY\n"
                   "Content-Type: application/problem+json\n\n"
                   f'{{"type": "{base_url}/api/#problem-invalid-input", "title": "Invalid input", '
                   '"status": 422,\n'
                   ' "detail": "Please correct: email", "errors": {"email": ["Not a valid email '
                   'address."]}}',
    }


@page_bp.get("/")
def index() -> str:
    """The API page."""
    api = current_app.extensions["consentmgr.api"]
    base_url = runtime().settings.base_url
    spec = api.spec.to_dict()
    return render_template(
        "api/index.html", spec=spec, doc=describe(spec, base_url), base_url=base_url,
        problems=list(PROBLEM_TYPES.values()), scopes=SCOPES,
        samples=_samples(base_url),
    )
