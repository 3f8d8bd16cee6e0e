"""API operations for data-subject requests (GDPR Arts. 12, 15-21) and the customer export.

Thin, like :mod:`.views`: authenticate (``requires``), parse with a schema,
call one service of :mod:`consentmgr.requests.services`, dump with a
schema. Every decision and its audit entry commit in one unit of work
(``idempotent_operation``), so a refused attempt changes nothing.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import current_app, stream_with_context, url_for
from flask.views import MethodView

from consentmgr.apiclients.services import notified_clients, refuse_if_restricted
from consentmgr.customers import services as customers
from consentmgr.requests import export
from consentmgr.requests import services as requests
from consentmgr.requests.models import DataSubjectRequest, RequestType
from consentmgr.runtime import runtime
from consentmgr.unit_of_work import unit_of_work
from consentmgr.web.api import schemas as s
from consentmgr.web.api.auth import current_client, requires
from consentmgr.web.api.blueprint import blp, problems
from consentmgr.web.api.idempotency import idempotent_operation

API_CHANNEL = "api"
ZIP = "application/zip"
# GDPR Art. 19: the changes every recipient must be told of.
TOLD_TO_RECIPIENTS = frozenset({RequestType.RECTIFICATION, RequestType.ERASURE,
                                RequestType.RESTRICTION})


def _summary(req: DataSubjectRequest) -> dict[str, Any]:
    return {
        "id": req.id, "customer_id": req.customer_id, "type": req.type.value,
        "status": req.status.value, "channel": str(req.channel), "purpose": req.purpose,
        "received_at": req.received_at, "due_at": req.deadline,
        "extended": req.extended_due_at is not None, "overdue": req.is_overdue(),
        "completed_at": req.completed_at, "outcome": req.outcome,
        "refusal_reason": req.refusal_reason.value if req.refusal_reason is not None else None,
    }


def _detail(req: DataSubjectRequest) -> dict[str, Any]:
    notified = None
    if req.type in TOLD_TO_RECIPIENTS:
        notified = [{"id": c.id, "name": c.name, "feed_cursor": c.feed_cursor}
                    for c in notified_clients(req.customer_id, req.id)]
    return {**_summary(req), "notified_clients": notified}


def _location(req: DataSubjectRequest) -> dict[str, str]:
    return {"Location": url_for("api.RequestResource", request_id=req.id)}


@blp.route("/requests", tags=["Requests"])
class Requests(MethodView):
    """The register of data-subject requests."""

    @requires("requests:read")
    @blp.arguments(s.RequestQuerySchema(), location="query")
    @blp.response(200, s.RequestPageSchema)
    @problems(422)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """List requests, soonest deadline first

        Filter by `status`, `type`, or `overdue=true` (open and past the
        deadline); page with `limit` and `offset` (the previous page's
        `next_offset`).
        """
        filters = {"status": query.get("status"), "type": query.get("type"),
                   "overdue": query.get("overdue")}
        found = requests.list_requests(**filters, limit=query["limit"], offset=query["offset"])
        total = requests.count_requests(**filters)
        following = query["offset"] + len(found)
        return {"requests": [_summary(req) for req in found], "total": total,
                "next_offset": following if found and following < total else None}

    @requires("requests:write")
    @idempotent_operation
    @blp.arguments(s.RequestInputSchema())
    @blp.response(201, s.RequestSchema, description="Received")
    @problems(400, 404, 409, 413, 415, 422)
    def post(self, data: dict[str, Any]) -> Any:
        """File a data-subject request received by your system

        Due one calendar month after receipt (`due_at`, Art. 12(3)); the
        customer is sent an acknowledgement. A restriction takes effect at
        once; an erasure waits for the DPO (or `POST .../approve`); a second
        open erasure or restriction request is a 409, as is a request for an
        erased customer. The answer holds ids, statuses and dates only.
        """
        settings = runtime().settings
        customer = customers.get_customer(data["customer_id"])
        req = requests.file_request(customer, RequestType(data["type"]),
                                    actor=current_client().actor, channel=API_CHANNEL,
                                    purpose=data.get("purpose"), notes=data.get("notes"),
                                    auto_approve_erasure=settings.requests_auto_approve_erasure)
        return _detail(req), 201, _location(req)


@blp.route("/requests/<uuid:request_id>", tags=["Requests"])
class RequestResource(MethodView):
    """One request."""

    @requires("requests:read")
    @blp.response(200, s.RequestSchema)
    @problems(404)
    def get(self, request_id: uuid.UUID) -> dict[str, Any]:
        """Read a request: its status, deadline and, for Art. 19, who was told

        Completion may take a while (an erasure waits for the DPO): poll
        this. For erasure, rectification and restriction requests,
        `notified_clients` names the API clients that have read the change
        feed past the request's completion.
        """
        return _detail(requests.get_request(request_id))


@blp.route("/requests/<uuid:request_id>/approve", tags=["Requests"])
class RequestApproval(MethodView):
    """The controller's decision to act on a request."""

    @requires("requests:decide")
    @idempotent_operation
    @blp.arguments(s.ApprovalInputSchema())
    @blp.response(200, s.RequestSchema)
    @problems(400, 404, 409, 413, 415, 422)
    def post(self, data: dict[str, Any], request_id: uuid.UUID) -> dict[str, Any]:
        """Approve a request (the DPO's decision)

        Send `{}`. An erasure is carried out at once (data a legal retention
        period keeps is restricted until it ends; a legal hold refuses it
        with its exception); a rectification goes to staff. Approving a
        completed, refused or withdrawn request is a 409 and changes nothing.
        """
        req = requests.get_request(request_id)
        return _detail(requests.approve_request(req, actor=current_client().actor))


@blp.route("/requests/<uuid:request_id>/refuse", tags=["Requests"])
class RequestRefusal(MethodView):
    """The controller's refusal, with its reason (Art. 12(4))."""

    @requires("requests:decide")
    @idempotent_operation
    @blp.arguments(s.RefusalInputSchema())
    @blp.response(200, s.RequestSchema)
    @problems(400, 404, 409, 413, 415, 422)
    def post(self, data: dict[str, Any], request_id: uuid.UUID) -> dict[str, Any]:
        """Refuse a request, with a reason code

        The customer is told the reason and their right to complain to the
        supervisory authority. `other` needs an `explanation`. Refusing a
        closed request is a 409 and changes nothing.
        """
        req = requests.get_request(request_id)
        return _detail(requests.refuse_request(req, actor=current_client().actor,
                                               reason_code=data["reason_code"],
                                               explanation=data.get("explanation")))


@blp.route("/customers/<uuid:customer_id>/export", tags=["Requests"])
class CustomerExport(MethodView):
    """Everything held about a customer, as one file (GDPR Arts. 15 and 20)."""

    @requires("customers:export")
    @blp.response(200, {"type": "string", "format": "binary"}, content_type=ZIP,
                  description="A ZIP: data.json (versioned schema), one CSV per kind, README.txt")
    @problems(404, 409)
    def get(self, customer_id: uuid.UUID) -> Any:
        """Download a customer's data (ZIP)

        The same file the customer downloads from their portal: `data.json`
        (documented, versioned schema), `history.csv`, `consent_events.csv`,
        `access_log.csv`, `requests.csv` and a `README.txt` with the
        Art. 15(1) information. The export is recorded before it is sent.
        Streamed. 409 for an erased or a restricted record.
        """
        with unit_of_work():
            customer = customers.get_customer(customer_id)
            refuse_if_restricted(customer)
            export.record_export(customer, actor=current_client().actor, channel=API_CHANNEL)
        # Raises for an erased record before anything is sent; the ZIP itself
        # is written as the body streams, in the stream's own session.
        chunks = export.export_customer(
            customer, receipt_signing_key=runtime().settings.receipt_signing_key)
        response = current_app.response_class(stream_with_context(chunks), mimetype=ZIP)
        response.headers["Content-Disposition"] = (
            f'attachment; filename="{export.export_filename(customer)}"')
        response.headers["Cache-Control"] = "no-store"
        return response
