"""API operations: one MethodView per resource, thin.

Each operation authenticates (``requires``), parses with a schema
(``blp.arguments``), calls one service and dumps with a schema
(``blp.response``); errors become problems in :mod:`.errors`. Writes run
as one unit of work (``transactional``; ``idempotent_operation`` for POSTs
that take an Idempotency-Key).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from flask import current_app, request, url_for
from flask.views import MethodView

from consentmgr.apiclients.services import (
    correct_customer,
    lookup_customer,
    read_customer,
    record_feed_read,
    upsert_customer,
)
from consentmgr.consent import services as consent
from consentmgr.consent.models import ConsentAction
from consentmgr.customers import services as customers
from consentmgr.customers.models import Customer
from consentmgr.errors import NotFound, ValidationFailed, flatten_messages
from consentmgr.policies import services as policies
from consentmgr.text import unstorable_text
from consentmgr.unit_of_work import transactional
from consentmgr.web.api import schemas as s
from consentmgr.web.api.auth import current_client, requires
from consentmgr.web.api.blueprint import blp, problems
from consentmgr.web.api.fast_json import (
    decision_document,
    event_document,
    plain_checks,
    unknown_document,
)
from consentmgr.web.api.idempotency import idempotent_operation


@blp.url_value_preprocessor
def refuse_unstorable_path_values(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """A path parameter with a control character (``/consents/a%00b``) is a 422 naming it.

    The body and the query string are checked by the schemas; path values
    reach the services (and PostgreSQL, which refuses NUL) without one.
    """
    bad = unstorable_text(values or {})
    if bad is not None:
        raise ValidationFailed(flatten_messages(bad))


def _raw_body() -> dict[str, Any]:
    """The JSON body as sent (already validated by the operation's schema).

    Services validate again with the same schemas; they get the raw values,
    not the API's deserialised ones, so every entry point feeds them alike.
    """
    body = request.get_json(silent=True)
    return dict(body) if isinstance(body, dict) else {}


# ---------------------------------------------------------------------- meta


@blp.route("/ping", tags=["Meta"])
class Ping(MethodView):
    """The framework floor (used by the benchmark)."""

    @blp.response(200, s.PingSchema)
    @problems(429)
    @blp.doc(security=[])
    def get(self) -> dict[str, bool]:
        """Answer {"ok": true}

        No authentication and no database access: the cost of the framework alone.
        """
        return {"ok": True}


# ----------------------------------------------------------------- customers


def _ref(customer: Customer, external_ref: str | None) -> dict[str, Any]:
    return {"id": customer.id, "status": customer.status.value, "external_ref": external_ref}


@blp.route("/customers", tags=["Customers"])
class Customers(MethodView):
    """Create customers and find them by email address."""

    @requires("customers:read")
    @transactional
    @blp.arguments(s.CustomerLookupQuerySchema(), location="query")
    @blp.response(200, s.CustomerLookupSchema)
    @problems(422)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Find a customer by email address

        Exact match after normalisation, through the blind index (the
        address is never decrypted to search). Returns ids only; read the
        record with GET /customers/{customer_id}. A hit is audited. The
        address travels in the URL: keep query strings out of proxy logs.
        """
        customer = lookup_customer(current_client(), query["email"])
        if customer is None:
            return {"customers": []}
        return {"customers": [{"id": customer.id, "status": customer.status.value}]}

    @requires("customers:write")
    @idempotent_operation
    @blp.arguments(s.CustomerInputSchema())
    @blp.response(201, s.CustomerRefSchema, description="Created")
    @blp.alt_response(200, schema=s.CustomerRefSchema, success=True,
                      description="Updated: a customer with this external_ref existed")
    @problems(400, 409, 413, 415, 422)
    def post(self, data: dict[str, Any]) -> Any:
        """Create a customer, or update the one with this external_ref

        With an `external_ref` you have sent before, the customer it names
        is updated (201 becomes 200). The answer holds ids only.
        """
        details = _raw_body()
        external_ref = details.pop("external_ref", None)
        customer, created = upsert_customer(current_client(), details, external_ref=external_ref)
        location = url_for("api.CustomerResource", customer_id=customer.id)
        return _ref(customer, external_ref), (201 if created else 200), {"Location": location}


@blp.route("/customers/<uuid:customer_id>", tags=["Customers"])
class CustomerResource(MethodView):
    """One customer's record."""

    @requires("customers:read")
    @transactional
    @blp.arguments(s.CustomerQuerySchema(), location="query")
    @blp.response(200, s.CustomerSchema)
    @problems(404, 409, 422)
    def get(self, query: dict[str, Any], customer_id: uuid.UUID) -> dict[str, Any]:
        """Read a customer's record

        Every read is audited with your client as the actor and the fields
        returned (GDPR Art. 5(2), accountability); the customer can see it.
        While the customer's processing is restricted (Art. 18) the record
        is not given out: a 409 `restricted` problem.
        """
        record, _ = read_customer(current_client(), customer_id, with_history=query["history"])
        return record

    @requires("customers:write")
    @transactional
    @blp.arguments(s.CustomerChangesSchema())
    @blp.response(200, s.CustomerChangedSchema)
    @problems(400, 404, 409, 413, 415, 422)
    def patch(self, data: dict[str, Any], customer_id: uuid.UUID) -> dict[str, Any]:
        """Correct some of a customer's details

        Send only the fields to change (GDPR Art. 16, rectification). The
        answer names the fields that actually changed, never their values.
        A restricted record (Art. 18) is not changed: a 409 `restricted` problem.
        """
        customer = customers.get_customer(customer_id)
        changed = correct_customer(current_client(), customer, _raw_body())
        return {"id": customer.id, "status": customer.status.value, "changed": changed}


@blp.route("/customers/<uuid:customer_id>/history", tags=["Customers"])
class CustomerHistory(MethodView):
    """Interactions with a customer."""

    @requires("customers:write")
    @idempotent_operation
    @blp.arguments(s.HistoryInputSchema())
    @blp.response(201, s.HistoryCreatedSchema)
    @problems(400, 404, 409, 413, 415, 422)
    def post(self, data: dict[str, Any], customer_id: uuid.UUID) -> dict[str, Any]:
        """Add an interaction (purchase, support contact, visit, ...)

        The summary and details are encrypted under the customer's key and
        are not echoed back.
        """
        customer = customers.get_customer(customer_id)
        entry = customers.add_history(customer, _raw_body(), actor=current_client().actor)
        return {"id": entry.id, "customer_id": customer.id, "occurred_at": entry.occurred_at,
                "channel": entry.channel, "kind": entry.kind, "data_category": entry.data_category}


# ------------------------------------------------------------------- consent


def _decision(decision: consent.ConsentDecision) -> dict[str, Any]:
    return {"customer_id": decision.customer_id, "purpose": decision.purpose,
            "allowed": decision.allowed, "status": decision.status,
            "policy_version": decision.policy_version, "reason": decision.reason,
            "updated_at": decision.updated_at, "expires_at": decision.expires_at}


@blp.route("/customers/<uuid:customer_id>/consents", tags=["Consent"])
class CustomerConsents(MethodView):
    """A customer's consent, purpose by purpose."""

    @requires("consent:read")
    @blp.response(200, s.CustomerConsentsSchema)
    @problems(404)
    def get(self, customer_id: uuid.UUID) -> dict[str, Any]:
        """Every purpose in effect, with this customer's decision"""
        customer = customers.get_customer(customer_id)
        overview = consent.consent_overview(customer)
        return {"customer_id": customer.id,
                "consents": [_decision(choice.decision) for choice in overview]}

    @requires("consent:write")
    @idempotent_operation
    @blp.arguments(s.ConsentRecordInputSchema())
    @blp.response(201, s.ConsentEventSchema)
    @problems(400, 404, 409, 413, 415, 422)
    def post(self, data: dict[str, Any], customer_id: uuid.UUID) -> dict[str, Any]:
        """Record a choice collected elsewhere

        Say what the customer was shown (`policy_version`, `notice_hash`
        from GET /purposes), how (`channel`) and when (`collected_at`).
        Consent for a purpose based on a contract, or an objection to a
        consent purpose, is a 409. The change appears in GET /events.
        """
        customer = consent.subject_for_write(customer_id)  # checked by the write itself
        evidence = data["evidence"]
        event = consent.record_choice(
            customer, data["purpose"], ConsentAction(data["action"]),
            actor=current_client().actor, channel=data["channel"],
            evidence=consent.Evidence(gpc=evidence.get("gpc", False), note=evidence.get("note")),
            policy_version=data.get("policy_version"), notice_hash=data.get("notice_hash"),
            collected_at=data.get("collected_at"), language=data["language"],
        )
        # Dumped by hand, as the check is (the schema documents it; a test compares the two).
        return _json(event_document(event), status=201)


@blp.route("/customers/<uuid:customer_id>/consents/<purpose>", tags=["Consent"])
class ConsentCheck(MethodView):
    """The hot path: may I use this customer's data for this purpose?"""

    @requires("consent:read")
    @blp.response(200, s.ConsentDecisionSchema)
    @problems(404)
    def get(self, customer_id: uuid.UUID, purpose: str) -> Any:
        """Check consent for one purpose

        Act on `allowed`. One indexed query, no audit entry; 404 for an
        unknown customer or a purpose the policy in effect does not define.
        """
        decision = consent.check_consent(customer_id, purpose)
        # The hot path: dumped by hand (the schema above still documents it and
        # schemathesis checks the two agree), saving the marshmallow pass.
        return _json(decision_document(decision))


@blp.route("/consent-checks", tags=["Consent"])
class ConsentChecks(MethodView):
    """Many checks at once."""

    @requires("consent:read")
    @blp.doc(requestBody={"required": True,
                          "content": {"application/json": {"schema": s.ConsentChecksInputSchema}}})
    @blp.response(200, s.ConsentChecksSchema)
    @problems(400, 413, 415, 422)
    def post(self) -> Any:
        """Check up to 1,000 customer/purpose pairs

        Results come in the order sent. An unknown customer or purpose is
        not an error here: its result says `allowed: false`, `status:
        unknown` and `reason: unknown-customer` or `unknown-purpose`. A read:
        safe to retry, so no Idempotency-Key is needed.
        """
        # Parsed and dumped by hand when the body is plain (fast_json.py); any
        # other body goes through the documented schema and its messages.
        pairs = plain_checks(request.get_json(silent=True))
        if pairs is None:
            data = blp.ARGUMENTS_PARSER.parse(s.ConsentChecksInputSchema, location="json")
            pairs = [(check["customer_id"], check["purpose"]) for check in data["checks"]]
        results = []
        for (customer_id, slug), result in zip(pairs, consent.check_many(pairs)):
            if isinstance(result, NotFound):
                reason = ("unknown-purpose" if isinstance(result, consent.UnknownPurpose)
                          else "unknown-customer")
                results.append(unknown_document(customer_id, slug, reason))
            else:
                results.append(decision_document(result))
        return _json({"results": results})


def _json(document: dict[str, Any], status: int = 200) -> Any:
    return current_app.response_class(json.dumps(document), status=status,
                                      mimetype="application/json")


# -------------------------------------------------------------------- events


@blp.route("/events", tags=["Events"])
class Events(MethodView):
    """The change feed."""

    @requires("events:read")
    @transactional
    @blp.arguments(s.FeedQuerySchema(), location="query")
    @blp.response(200, s.FeedPageSchema)
    @problems(422)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Read consent changes, corrections, restrictions, erasures and requests after a cursor

        Oldest first. Keep the last `cursor` you processed and poll with
        `after=<cursor>`: a change committed later always gets a larger
        cursor, so a withdrawal is never skipped. No personal data. The
        highest cursor you have been served is recorded: it is how the
        controller shows you were told of a rectification, erasure or
        restriction (GDPR Art. 19).
        """
        items = consent.change_feed(after=query["after"], limit=query["limit"])
        if items:
            record_feed_read(current_client(), items[-1].cursor)
        return {"events": items, "next_cursor": items[-1].cursor if items else query["after"]}


# ------------------------------------------------------------------ policies


@blp.route("/policies", tags=["Policies"])
class Policies(MethodView):
    """The published privacy policy (public, like /privacy)."""

    @blp.response(200, s.PolicyListSchema)
    @problems(429)
    @blp.doc(security=[])
    def get(self) -> dict[str, Any]:
        """List published versions, newest first"""
        return {"policies": [
            {"version": info.version.version, "effective_date": info.version.effective_date,
             "status": info.status, "summary": info.version.summary, "sha256": info.version.sha256}
            for info in policies.version_history()
        ]}


@blp.route("/policies/<version>", tags=["Policies"])
class PolicyVersionResource(MethodView):
    """One published version."""

    @blp.response(200, s.PolicyVersionSchema)
    @problems(404, 429)
    @blp.doc(security=[])
    def get(self, version: str) -> dict[str, Any]:
        """Read one version: purposes (with notice hashes), categories, text"""
        found = policies.get_version(version)
        return {**found.document, "effective_date": found.effective_date,
                "status": policies.status_of(found)}


@blp.route("/purposes", tags=["Policies"])
class Purposes(MethodView):
    """The purposes of the policy in effect."""

    @blp.response(200, s.PurposeListSchema)
    @problems(404, 429)
    @blp.doc(security=[])
    def get(self) -> dict[str, Any]:
        """List the purposes in effect today

        Each has the `notice_hash` to send back when you record consent.
        404 while no policy is in effect.
        """
        current = policies.current_version()
        return {"policy_version": current.version, "purposes": current.document["purposes"]}
