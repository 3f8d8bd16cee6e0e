"""API operations for signed webhooks: register, list, read, change, delete, rotate the secret.

Thin, like :mod:`.views`: authenticate (``requires("webhooks:write")``),
parse with a schema, call one service of :mod:`consentmgr.webhooks.services`,
dump. A client sees and changes only its own webhooks. The secret is in the
answer to registration and rotation only (``Cache-Control: no-store``);
nothing else ever shows it again.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import current_app, url_for
from flask.views import MethodView
from marshmallow import Schema, fields

from consentmgr.extensions import db
from consentmgr.unit_of_work import transactional
from consentmgr.web.api.auth import current_client, requires
from consentmgr.web.api.blueprint import blp, problems
from consentmgr.web.api.idempotency import idempotent_operation
from consentmgr.web.api.schemas import StrictBoolean, StrictSchema
from consentmgr.webhooks import services as webhooks
from consentmgr.webhooks.services import EVENT_TYPES, MAX_URL, WebhookSubscription

SCOPE = "webhooks:write"
_NO_STORE = {"Cache-Control": "no-store"}
_TYPES = ", ".join(f"`{name}`" for name in EVENT_TYPES)
# Documented in the OpenAPI schema; checked by the service, whose errors name the problem.
_URL = {"minLength": 1, "maxLength": MAX_URL,
        "description": "Where events are POSTed: https (or http), at most 2000 characters, "
                       "a host resolving to public addresses only."}
_TYPE = {"enum": list(EVENT_TYPES)}
_TYPE_LIST = {"minItems": 1, "description": f"The event types to send, any of {_TYPES}."}


class WebhookInputSchema(StrictSchema):
    """A new webhook."""

    url = fields.String(required=True, metadata=_URL)
    event_types = fields.List(fields.String(metadata=_TYPE), required=True, metadata=_TYPE_LIST)


class WebhookChangesSchema(StrictSchema):
    """Changes to a webhook: only what is given changes."""

    url = fields.String(metadata=_URL)
    event_types = fields.List(fields.String(metadata=_TYPE), metadata=_TYPE_LIST)
    active = StrictBoolean(metadata={"description": "false pauses deliveries (kept until "
                                                    "resumed, within their day of retries)."})


class RotationInputSchema(StrictSchema):
    """Send ``{}``."""


class WebhookSchema(Schema):
    """A webhook as the API shows it (never its secret)."""

    id = fields.UUID()
    url = fields.String()
    event_types = fields.List(fields.String())
    active = fields.Boolean()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class WebhookWithSecretSchema(WebhookSchema):
    """A webhook with its secret: in the answer to registration and rotation only."""

    secret = fields.String(metadata={
        "description": "`whsec_` and base64: verify each delivery's `webhook-signature` with it "
                       "(Standard Webhooks). Shown once: store it now."})


class WebhookListSchema(Schema):
    """The client's webhooks."""

    webhooks = fields.List(fields.Nested(WebhookSchema))


def _shown(subscription: WebhookSubscription, secret: str | None = None) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "id": subscription.id, "url": subscription.url,
        "event_types": list(subscription.event_types or ()), "active": subscription.active,
        "created_at": subscription.created_at, "updated_at": subscription.updated_at}
    if secret is not None:
        shown["secret"] = secret
    return shown


def _allow_private() -> bool:
    return bool(current_app.config.get("WEBHOOKS_ALLOW_PRIVATE", False))


@blp.route("/webhooks", tags=["Webhooks"])
class Webhooks(MethodView):
    """Your system's webhooks."""

    @requires(SCOPE)
    @transactional
    @blp.response(200, WebhookListSchema)
    def get(self) -> dict[str, Any]:
        """List your webhooks (without their secrets)"""
        return {"webhooks": [_shown(found) for found in
                             webhooks.list_webhooks(db.session, current_client().id)]}

    @requires(SCOPE)
    @idempotent_operation
    @blp.arguments(WebhookInputSchema())
    @blp.response(201, WebhookWithSecretSchema, description="Registered; the secret is shown once")
    @problems(400, 409, 413, 415, 422)
    def post(self, data: dict[str, Any]) -> Any:
        """Register a webhook

        Changes of the chosen event types are POSTed to `url` by the worker,
        signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`,
        `webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>`),
        retried with exponential backoff and jitter for 24 hours. A URL that
        is not http(s), is over 2000 characters or whose host resolves to a
        private, loopback, link-local or otherwise non-public address is a
        422 naming the problem, as are unknown event types. Customer events
        (all but `policy.published`) need the `events:read` scope as well.
        The answer holds the `secret`, once: a retry with the same
        `Idempotency-Key` gets the status and `Location` again, never the
        secret (which is stored nowhere in the clear); rotate it if lost.
        """
        client = current_client()
        issued = webhooks.register_webhook(
            db.session, client.id, data["url"], data["event_types"], scopes=client.scopes,
            actor=client.actor, allow_private=_allow_private())
        location = url_for("api.WebhookResource", webhook_id=issued.subscription.id)
        return (_shown(issued.subscription, issued.secret), 201,
                {**_NO_STORE, "Location": location})


@blp.route("/webhooks/<uuid:webhook_id>", tags=["Webhooks"])
class WebhookResource(MethodView):
    """One of your webhooks."""

    @requires(SCOPE)
    @transactional
    @blp.response(200, WebhookSchema)
    @problems(404)
    def get(self, webhook_id: uuid.UUID) -> dict[str, Any]:
        """Read a webhook (without its secret)"""
        return _shown(webhooks.get_webhook(db.session, current_client().id, webhook_id))

    @requires(SCOPE)
    @transactional
    @blp.arguments(WebhookChangesSchema())
    @blp.response(200, WebhookSchema)
    @problems(400, 404, 413, 415, 422)
    def patch(self, data: dict[str, Any], webhook_id: uuid.UUID) -> dict[str, Any]:
        """Change a webhook's URL, event types, or pause and resume it

        The same checks as registration; a refused change changes nothing.
        """
        client = current_client()
        found = webhooks.get_webhook(db.session, client.id, webhook_id)
        return _shown(webhooks.update_webhook(
            db.session, found, scopes=client.scopes, actor=client.actor,
            allow_private=_allow_private(), url=data.get("url"),
            event_types=data.get("event_types"), active=data.get("active")))

    @requires(SCOPE)
    @transactional
    @blp.response(204)
    @problems(404)
    def delete(self, webhook_id: uuid.UUID) -> Any:
        """Delete a webhook: nothing more is sent, pending deliveries included"""
        client = current_client()
        webhooks.delete_webhook(db.session, webhooks.get_webhook(db.session, client.id,
                                                                  webhook_id), actor=client.actor)
        return "", 204


@blp.route("/webhooks/<uuid:webhook_id>/rotate-secret", tags=["Webhooks"])
class WebhookSecretRotation(MethodView):
    """A webhook's secret."""

    @requires(SCOPE)
    @transactional
    @blp.arguments(RotationInputSchema())
    @blp.response(200, WebhookWithSecretSchema, description="The new secret, shown once")
    @problems(400, 404, 413, 415, 422)
    def post(self, data: dict[str, Any], webhook_id: uuid.UUID) -> Any:
        """Rotate a webhook's secret

        Send `{}`. The answer holds the new `secret`, once. For 24 hours deliveries are
        signed with the new and the old secret (two `v1,` signatures in
        `webhook-signature`), so receivers can switch over without losing one.
        """
        client = current_client()
        found = webhooks.get_webhook(db.session, client.id, webhook_id)
        secret = webhooks.rotate_secret(db.session, found, actor=client.actor)
        return _shown(found, secret), 200, _NO_STORE
