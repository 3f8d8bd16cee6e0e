"""marshmallow schemas of the API: they validate requests, shape responses and make the OpenAPI.

Customer input reuses :mod:`consentmgr.customers.schemas` (the same rules
as the portal and the services), extended only by what is API-specific.
Every input schema rejects unknown fields, and booleans are strict: only
JSON ``true``/``false`` (or ``true``/``false`` in a query string).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates

from consentmgr.apiclients.services import MAX_EXTERNAL_REF
from consentmgr.customers.models import CustomerStatus
from consentmgr.customers.schemas import (
    CustomerDetailsSchema,
    HistoryEntrySchema,
    PreferencesSchema,
)

MAX_CONSENT_CHECKS = 1000
MAX_FEED_PAGE = 1000
SLUG = validate.Regexp(r"^[a-z0-9]+(?:-[a-z0-9]+)*$", error="Use a purpose slug such as 'marketing-email'.")
_SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"


class StrictBoolean(fields.Boolean):
    """A JSON boolean and nothing else: ``0``, ``1``, ``"yes"`` and ``"true"`` are refused.

    (marshmallow's own Boolean accepts all of them, and ``1 in {True}`` is
    true in Python, so narrowing ``truthy`` is not enough.)
    """

    default_error_messages = {"invalid": "Must be a JSON boolean: true or false."}

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if value is True or value is False:
            return value
        raise self.make_error("invalid")


class QueryBoolean(fields.Boolean):
    """A query-string boolean: exactly ``true`` or ``false``."""

    default_error_messages = {"invalid": "Must be 'true' or 'false'."}

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if value in ("true", "false"):
            return value == "true"
        raise self.make_error("invalid")


class StrictSchema(Schema):
    """Base of every input schema: unknown fields are errors, not silently dropped."""

    class Meta:
        unknown = RAISE


# ------------------------------------------------------------------ problems


class ProblemSchema(Schema):
    """RFC 9457 problem details."""

    type = fields.String(required=True, metadata={
        "description": "URI of the problem type; the API page explains each one."})
    title = fields.String(required=True, metadata={"description": "Short summary of the problem type."})
    status = fields.Integer(required=True, metadata={"description": "The HTTP status code."})
    detail = fields.String(required=True, metadata={
        "description": "What went wrong with this request. Never contains the values sent."})
    instance = fields.String(metadata={"description": "The path of the request."})
    errors = fields.Dict(
        keys=fields.String(), values=fields.List(fields.String()),
        metadata={"description": "Invalid fields (dotted paths) and their messages (422 only)."},
    )


# ------------------------------------------------------------------ basics


class PingSchema(Schema):
    """The framework floor: answers without authentication or database access."""

    ok = fields.Boolean(required=True)


# ----------------------------------------------------------------- customers


class CustomerInputSchema(CustomerDetailsSchema):
    """A customer to create, or to update when ``external_ref`` is already known."""

    external_ref = fields.String(
        validate=validate.Length(min=1, max=MAX_EXTERNAL_REF),
        metadata={"description": "Your own id for this customer. Sending a known one updates "
                                 "that customer instead of creating a new one."},
    )


class CustomerChangesSchema(CustomerDetailsSchema):
    """Corrections to some of a customer's details (GDPR Art. 16); omitted fields stay as they are."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(partial=True, **kwargs)


class CustomerQuerySchema(StrictSchema):
    """Options for reading one customer."""

    history = QueryBoolean(load_default=False, metadata={
        "description": "Also return the interaction history (each entry's summary and details "
                       "are personal data and are audited as read)."})


class CustomerLookupQuerySchema(StrictSchema):
    """Find a customer by exact email address (blind-index lookup)."""

    email = fields.Email(required=True, validate=validate.Length(max=254))


class HistoryEntryOutSchema(Schema):
    """One interaction, as read back."""

    id = fields.UUID(required=True)
    occurred_at = fields.AwareDateTime(required=True)
    channel = fields.String(required=True)
    kind = fields.String(required=True)
    data_category = fields.String(required=True)
    summary = fields.String(allow_none=True)
    details = fields.Dict(allow_none=True)


_STATUSES = [s.value for s in CustomerStatus]


class CustomerSchema(Schema):
    """A customer's record. Personal fields are null once the record is erased."""

    id = fields.UUID(required=True)
    status = fields.String(required=True, validate=validate.OneOf(_STATUSES))
    external_ref = fields.String(allow_none=True, metadata={
        "description": "Your reference for this customer, if you gave one."})
    email = fields.String(allow_none=True)
    name = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    postal_address = fields.String(allow_none=True)
    date_of_birth = fields.Date(allow_none=True)
    preferences = fields.Nested(PreferencesSchema, allow_none=True)
    created_at = fields.AwareDateTime(required=True)
    updated_at = fields.AwareDateTime(required=True)
    history = fields.List(fields.Nested(HistoryEntryOutSchema), metadata={
        "description": "Only with ?history=true, newest first."})


class CustomerRefSchema(Schema):
    """Which customer a write touched. Write answers carry no personal data."""

    id = fields.UUID(required=True)
    status = fields.String(required=True, validate=validate.OneOf(_STATUSES))
    external_ref = fields.String(allow_none=True)


class CustomerChangedSchema(Schema):
    """The outcome of a correction: which fields actually changed (names only)."""

    id = fields.UUID(required=True)
    status = fields.String(required=True, validate=validate.OneOf(_STATUSES))
    changed = fields.List(fields.String(), required=True)


class CustomerMatchSchema(Schema):
    """A lookup hit: the id to read the record with."""

    id = fields.UUID(required=True)
    status = fields.String(required=True, validate=validate.OneOf(_STATUSES))


class CustomerLookupSchema(Schema):
    """Lookup results: empty, or the one customer with that address."""

    customers = fields.List(fields.Nested(CustomerMatchSchema), required=True)


class HistoryCreatedSchema(Schema):
    """The interaction added (its summary and details are not echoed)."""

    id = fields.UUID(required=True)
    customer_id = fields.UUID(required=True)
    occurred_at = fields.AwareDateTime(required=True)
    channel = fields.String(required=True)
    kind = fields.String(required=True)
    data_category = fields.String(required=True)


# `HistoryEntrySchema` (customers area) is the request body for new history.
HistoryInputSchema = HistoryEntrySchema


# ------------------------------------------------------------------ policies


class ContactSchema(Schema):
    """A named contact of the controller."""

    name = fields.String(required=True)
    email = fields.String(required=True)


class ControllerSchema(ContactSchema):
    """The controller (GDPR Art. 13(1)(a))."""

    address = fields.String(required=True)


class TransferSchema(Schema):
    """A transfer outside the EEA and its safeguard."""

    recipient = fields.String(required=True)
    country = fields.String(required=True)
    safeguard = fields.String(required=True)


class PurposeSchema(Schema):
    """A purpose as the policy tells it, with the hash of that exact notice."""

    slug = fields.String(required=True)
    title = fields.String(required=True)
    description = fields.String(required=True)
    legal_basis = fields.String(required=True, validate=validate.OneOf(
        ["consent", "contract", "legal-obligation", "legitimate-interest"]))
    interest = fields.String(allow_none=True)
    data_categories = fields.List(fields.String(), required=True)
    retention = fields.String(required=True)
    recipients = fields.List(fields.String(), required=True)
    transfers = fields.List(fields.Nested(TransferSchema), required=True)
    sale_or_share = fields.Boolean(required=True)
    direct_marketing = fields.Boolean(required=True)
    notice_hash = fields.String(required=True, metadata={
        "description": "SHA-256 of the purpose's notice; send it back when recording consent."})


class DataCategorySchema(Schema):
    """A kind of personal data and how long it is kept."""

    slug = fields.String(required=True)
    title = fields.String(required=True)
    description = fields.String(required=True)
    retention = fields.String(required=True)
    retention_days = fields.Integer(required=True)


class PolicySummarySchema(Schema):
    """A published version of the privacy policy."""

    version = fields.String(required=True)
    effective_date = fields.Date(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["current", "upcoming", "superseded"]))
    summary = fields.String(required=True)
    sha256 = fields.String(required=True, metadata={"description": "SHA-256 of the published text."})


class PolicyListSchema(Schema):
    """Every published version, newest first."""

    policies = fields.List(fields.Nested(PolicySummarySchema), required=True)


class PolicyVersionSchema(PolicySummarySchema):
    """One version in full: contacts, purposes, data categories and the Markdown text."""

    controller = fields.Nested(ControllerSchema, required=True)
    dpo = fields.Nested(ContactSchema, required=True)
    purposes = fields.List(fields.Nested(PurposeSchema), required=True)
    data_categories = fields.List(fields.Nested(DataCategorySchema), required=True)
    body = fields.String(required=True, metadata={"description": "The policy text (Markdown)."})


class PurposeListSchema(Schema):
    """The purposes of the policy in effect today."""

    policy_version = fields.String(required=True)
    purposes = fields.List(fields.Nested(PurposeSchema), required=True)


# ------------------------------------------------------------------- consent


class ConsentDecisionSchema(Schema):
    """May this customer's data be used for this purpose now?"""

    customer_id = fields.UUID(required=True)
    purpose = fields.String(required=True)
    allowed = fields.Boolean(required=True, metadata={"description": "The answer. Act on this."})
    status = fields.String(required=True, metadata={
        "description": "given, withdrawn, refused, renewal-required, objected, not-given, "
                       "not-required, restricted, erased (or unknown in batch checks)."})
    policy_version = fields.String(allow_none=True, required=True)
    reason = fields.String(required=True, metadata={
        "description": "Why: consent-given, not-given, withdrawn, refused, renewal-required, "
                       "restricted, objected, erased, legitimate-interest, contract, "
                       "legal-obligation (unknown-customer, unknown-purpose in batch checks)."})
    updated_at = fields.AwareDateTime(allow_none=True, required=True)


class CustomerConsentsSchema(Schema):
    """Every purpose in effect with this customer's decision."""

    customer_id = fields.UUID(required=True)
    consents = fields.List(fields.Nested(ConsentDecisionSchema), required=True)


class ConsentCheckSchema(StrictSchema):
    """One customer/purpose pair to check."""

    customer_id = fields.UUID(required=True)
    purpose = fields.String(required=True, validate=[validate.Length(min=1, max=64), SLUG])


class ConsentChecksInputSchema(StrictSchema):
    """Up to 1,000 pairs checked in one call."""

    checks = fields.List(
        fields.Nested(ConsentCheckSchema), required=True,
        validate=validate.Length(min=1, max=MAX_CONSENT_CHECKS,
                                 error=f"Send between 1 and {MAX_CONSENT_CHECKS} checks."),
    )


class ConsentChecksSchema(Schema):
    """One decision per pair, in the order sent; unknown customers or purposes are denied."""

    results = fields.List(fields.Nested(ConsentDecisionSchema), required=True)


class EvidenceInputSchema(StrictSchema):
    """How the choice was collected."""

    gpc = StrictBoolean(load_default=False, metadata={
        "description": "True if a Global Privacy Control signal was present."})
    note = fields.String(validate=validate.Length(min=1, max=500), metadata={
        "description": "Free text, e.g. 'checkout form, order 1234'. Stored encrypted."})


class ConsentRecordInputSchema(StrictSchema):
    """A choice the customer made elsewhere (shop checkout, call centre, paper form)."""

    purpose = fields.String(required=True, validate=[validate.Length(min=1, max=64), SLUG])
    action = fields.String(required=True, validate=validate.OneOf(
        ["granted", "withdrawn", "refused", "objected"]))
    channel = fields.String(load_default="api", validate=validate.OneOf(["api", "import"]),
                            metadata={"description": "api: collected live by your system; "
                                                     "import: a bulk load of older records."})
    policy_version = fields.String(validate=validate.Length(min=1, max=64), metadata={
        "description": "The policy version whose notice the customer was shown "
                       "(default: the one in effect)."})
    notice_hash = fields.String(validate=validate.Regexp(r"^[0-9a-f]{64}$"), metadata={
        "description": "The notice_hash of the purpose as shown; checked against the policy."})
    collected_at = fields.AwareDateTime(default_timezone=dt.timezone.utc, metadata={
        "description": "When the customer made the choice (default: now). Not in the future."})
    evidence = fields.Nested(EvidenceInputSchema, load_default=dict)

    @validates("collected_at")
    def _not_in_future(self, value: dt.datetime, **kwargs: Any) -> None:
        if value > dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5):
            raise ValidationError("The time of the choice cannot be in the future.")


class ConsentEventSchema(Schema):
    """The ledger event recorded. No personal data (the note is not echoed)."""

    event_id = fields.UUID(required=True)
    customer_id = fields.UUID(required=True)
    purpose = fields.String(required=True)
    action = fields.String(required=True)
    status = fields.String(required=True)
    channel = fields.String(required=True)
    policy_version = fields.String(required=True)
    notice_hash = fields.String(required=True)
    recorded_at = fields.AwareDateTime(required=True)
    collected_at = fields.AwareDateTime(allow_none=True, required=True)
    cursor = fields.Integer(required=True, metadata={
        "description": "This change's position in the change feed (GET /events)."})


# -------------------------------------------------------------------- events


class FeedQuerySchema(StrictSchema):
    """Where to continue reading the change feed."""

    after = fields.Integer(load_default=0, validate=validate.Range(min=0, max=2**62), metadata={
        "description": "The last cursor you processed (0 to start from the beginning)."})
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=MAX_FEED_PAGE))


class FeedItemSchema(Schema):
    """One change: a consent choice, a restriction or an erasure. No personal data."""

    cursor = fields.Integer(required=True)
    type = fields.String(required=True, metadata={
        "description": "consent.granted, consent.withdrawn, consent.refused, consent.objected, "
                       "customer.restricted, customer.unrestricted, customer.erased."})
    customer_id = fields.UUID(allow_none=True, required=True)
    occurred_at = fields.AwareDateTime(required=True)
    purpose = fields.String(allow_none=True, required=True)
    status = fields.String(allow_none=True, required=True)
    policy_version = fields.String(allow_none=True, required=True)


class FeedPageSchema(Schema):
    """A page of changes, oldest first; poll again with ``after=next_cursor``."""

    events = fields.List(fields.Nested(FeedItemSchema), required=True)
    next_cursor = fields.Integer(required=True)
