"""``GET /api/v1/customers/<id>/unsubscribe-link``: the one-click link for other systems' mails.

A mailer that sends marketing mail for a purpose puts the two headers it
returns on each message (RFC 8058: ``List-Unsubscribe`` with the https
link, ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``) and the link
in the body. The click withdraws the consent here, through the ledger, and
reaches every system through the change feed. Thin, like :mod:`.views`.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields

from consentmgr.consent.unsubscribe import unsubscribe_link
from consentmgr.runtime import runtime
from consentmgr.web.api.auth import requires
from consentmgr.web.api.blueprint import blp, problems
from consentmgr.web.api.schemas import SLUG, StrictSchema


class UnsubscribeLinkQuerySchema(StrictSchema):
    """Which purpose the mail is about."""

    purpose = fields.String(required=True, validate=SLUG, metadata={
        "description": "The slug of a purpose based on consent in the policy in effect "
                       "(for example `marketing-email`)."})


class UnsubscribeHeadersSchema(Schema):
    """The two header fields to put on the mail, as they are to be written."""

    list_unsubscribe = fields.String(required=True, data_key="List-Unsubscribe", metadata={
        "example": "<https://privacy.example.com/unsubscribe/...>"})
    list_unsubscribe_post = fields.String(required=True, data_key="List-Unsubscribe-Post",
                                          metadata={"example": "List-Unsubscribe=One-Click"})


class UnsubscribeLinkSchema(Schema):
    """A signed link that withdraws one customer's consent to one purpose."""

    customer_id = fields.UUID(required=True)
    purpose = fields.String(required=True)
    url = fields.String(required=True, metadata={
        "description": "On CONSENTMGR_BASE_URL (https in production). A GET shows a "
                       "confirmation page; a POST of `List-Unsubscribe=One-Click` withdraws."})
    expires_at = fields.DateTime(required=True, metadata={
        "description": "When the link stops working; fetch a new one for each mailing."})
    headers = fields.Nested(UnsubscribeHeadersSchema, required=True)


@blp.route("/customers/<uuid:customer_id>/unsubscribe-link", tags=["Consent"])
class UnsubscribeLinkResource(MethodView):
    """The one-click unsubscribe link for a customer and purpose."""

    @requires("consent:read")
    @blp.arguments(UnsubscribeLinkQuerySchema(), location="query")
    @blp.response(200, UnsubscribeLinkSchema)
    @problems(404, 409, 422)
    def get(self, query: dict[str, Any], customer_id: uuid.UUID) -> dict[str, Any]:
        """Get the unsubscribe link and headers for a marketing mail

        For your own mails about a purpose based on consent: put `headers`
        on the message as they are and the `url` in its body. 404 for an
        unknown customer or a purpose the policy in effect does not define,
        409 for an erased customer, 422 for a purpose not based on consent.
        Nothing is stored or audited: the link is signed, not looked up.
        """
        link = unsubscribe_link(customer_id, query["purpose"], links=runtime().links)
        headers = link.headers
        return {"customer_id": customer_id, "purpose": query["purpose"], "url": link.url,
                "expires_at": link.expires_at,
                "headers": {"list_unsubscribe": headers["List-Unsubscribe"],
                            "list_unsubscribe_post": headers["List-Unsubscribe-Post"]}}
