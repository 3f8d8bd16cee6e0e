"""marshmallow schemas of the API: they validate requests, shape responses and make the OpenAPI.

Customer input reuses :mod:`consentmgr.customers.schemas` (the same rules
as the portal and the services), extended only by what is API-specific.
Every input schema rejects unknown fields and any text holding a control
character or an unpaired surrogate (:class:`~consentmgr.text.StorableTextSchema`,
body and query string alike), and booleans are strict: only JSON
``true``/``false`` (or ``true``/``false`` in a query string).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates

from consentmgr.apiclients.services import MAX_EXTERNAL_REF
from consentmgr.customers.models import CustomerStatus
from consentmgr.crypto import normalise_email
from consentmgr.i18n import LANGUAGES
from consentmgr.customers.schemas import (
    CustomerDetailsSchema,
    HistoryEntrySchema,
    PreferencesSchema,
)
from consentmgr.requests.models import RefusalReason, RequestStatus, RequestType
from consentmgr.text import StorableTextSchema

MAX_CONSENT_CHECKS = 1000
MAX_FEED_PAGE = 1000
MAX_REQUEST_PAGE = 100
MAX_REQUEST_TEXT = 2000
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


class StrictSchema(StorableTextSchema):
    """Base of every input schema: unknown fields are errors, not silently dropped,
    and unstorable text is refused by its field's name."""

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

    email = fields.Email(required=True, validate=validate.Length(max=254), metadata={
        "description": "Trimmed and normalised (NFKC, lower case) as stored addresses are."})

    def normalise_input(self, data: Any) -> Any:
        """Trim and normalise the address as the blind index does, before it is checked."""
        # "  Anna@Example.com " must find anna@example.com, not answer 422.
        email = data.get("email") if hasattr(data, "get") else None
        if isinstance(email, str):
            return {**{key: data[key] for key in data}, "email": normalise_email(email)}
        return data


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


class PostalAddressSchema(Schema):
    """An address in parts (schema.org PostalAddress, snake_case)."""

    street_address = fields.String(required=True)
    postal_code = fields.String(required=True)
    locality = fields.String(required=True)
    region = fields.String()
    country = fields.String(required=True, metadata={"description": "ISO 3166-1 alpha-2."})


class ControllerSchema(ContactSchema):
    """The controller (GDPR Art. 13(1)(a))."""

    address = fields.String(required=True, metadata={"description": "As printed, one line per line."})
    postal_address = fields.Nested(PostalAddressSchema, metadata={
        "description": "The same address in parts; absent in versions published without it."})
    phone = fields.String(metadata={
        "description": "Absent in versions published without one."})


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
        "description": "given, withdrawn, refused, expired, renewal-required, objected, "
                       "not-given, not-required, restricted, erased (or unknown in batch "
                       "checks)."})
    policy_version = fields.String(allow_none=True, required=True)
    reason = fields.String(required=True, metadata={
        "description": "Why: consent-given, not-given, withdrawn, refused, expired, "
                       "renewal-required, restricted, objected, erased, legitimate-interest, "
                       "contract, legal-obligation (unknown-customer, unknown-purpose in batch "
                       "checks)."})
    updated_at = fields.AwareDateTime(allow_none=True, required=True)
    expires_at = fields.AwareDateTime(allow_none=True, required=True, metadata={
        "description": "When the consent lapses (or lapsed), for a purpose whose policy gives "
                       "consent a term (valid_for_days); null otherwise."})


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
        "description": "Free text, e.g. 'checkout form, order 1234'. Stored encrypted.",
        "multiline": True})


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
    language = fields.String(load_default="en", validate=validate.OneOf(LANGUAGES), metadata={
        "description": "The language the notice was shown in: en (default) or de. "
                       "A version without a text in that language was shown, and is "
                       "recorded, in English."})
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
    language = fields.String(required=True, metadata={
        "description": "The language of the notice recorded (en, de)."})
    recorded_at = fields.AwareDateTime(required=True)
    collected_at = fields.AwareDateTime(allow_none=True, required=True)
    cursor = fields.Integer(required=True, allow_none=True, metadata={
        "description": "This change's position in the change feed (GET /events), or null "
                       "where it gets its position just after the answer (PostgreSQL: within "
                       "CONSENTMGR_AUDIT_SEQUENCE_DELAY_SECONDS, default 1 s)."})


# -------------------------------------------------------------------- events


class FeedQuerySchema(StrictSchema):
    """Where to continue reading the change feed."""

    after = fields.Integer(load_default=0, validate=validate.Range(min=0, max=2**62), metadata={
        "description": "The last cursor you processed (0 to start from the beginning)."})
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=MAX_FEED_PAGE))


class FeedItemSchema(Schema):
    """One change: a consent choice, a correction, a restriction, an erasure or a request's step.

    No personal data. GDPR Art. 19: apply rectifications, restrictions and
    erasures to your copy; reading past them is how you are told (see the
    request's ``notified_clients``).
    """

    cursor = fields.Integer(required=True)
    type = fields.String(required=True, metadata={
        "description": "consent.granted, consent.withdrawn, consent.refused, consent.objected, "
                       "consent.expired, customer.rectified, customer.restricted, customer.unrestricted, "
                       "customer.erased, request.received, request.identity-verified, "
                       "request.started, request.extended, request.completed, "
                       "request.rejected, request.withdrawn."})
    customer_id = fields.UUID(allow_none=True, required=True)
    occurred_at = fields.AwareDateTime(required=True)
    purpose = fields.String(allow_none=True, required=True)
    status = fields.String(allow_none=True, required=True, metadata={
        "description": "The consent status, or for request.* items the request's status."})
    policy_version = fields.String(allow_none=True, required=True)
    request_id = fields.UUID(allow_none=True, required=True, metadata={
        "description": "The data-subject request this change belongs to (request.* items, and "
                       "a correction made to answer a rectification request); null otherwise."})
    request_type = fields.String(allow_none=True, required=True, metadata={
        "description": "That request's type (access, portability, rectification, erasure, "
                       "restriction, objection); null when there is no request."})


class FeedPageSchema(Schema):
    """A page of changes, oldest first; poll again with ``after=next_cursor``."""

    events = fields.List(fields.Nested(FeedItemSchema), required=True)
    next_cursor = fields.Integer(required=True)


# ------------------------------------------------------------------ requests

_REQUEST_TYPES = [t.value for t in RequestType]
_REQUEST_STATUSES = [st.value for st in RequestStatus]
_REFUSAL_REASONS = [r.value for r in RefusalReason]


class RequestInputSchema(StrictSchema):
    """A data-subject request received by your system (GDPR Arts. 15-21)."""

    customer_id = fields.UUID(required=True)
    type = fields.String(required=True, validate=validate.OneOf(_REQUEST_TYPES), metadata={
        "description": "access (Art. 15), portability (Art. 20), rectification (Art. 16), "
                       "erasure (Art. 17), restriction (Art. 18), objection (Art. 21)."})
    purpose = fields.String(validate=[validate.Length(min=1, max=64), SLUG], metadata={
        "description": "Objection only, and required for it: the slug of the "
                       "legitimate-interest purpose objected to (see GET /purposes)."})
    notes = fields.String(validate=validate.Length(min=1, max=MAX_REQUEST_TEXT), metadata={
        "description": "What the customer asked, in their words. Stored encrypted; "
                       "never echoed.", "multiline": True})


class ApprovalInputSchema(StrictSchema):
    """An approval needs no fields: send ``{}``."""


class RefusalInputSchema(StrictSchema):
    """Why a request is refused; the customer is told, with their right to complain (Art. 12(4))."""

    reason_code = fields.String(required=True, validate=validate.OneOf(_REFUSAL_REASONS), metadata={
        "description": "identity-not-verified; manifestly-unfounded (or excessive, Art. 12(5)); "
                       "legal-obligation (Art. 17(3)(b)); legal-claims (Art. 17(3)(e)); "
                       "other (explanation required)."})
    explanation = fields.String(validate=validate.Length(min=1, max=MAX_REQUEST_TEXT), metadata={
        "description": "Told to the customer. Required with reason_code 'other'. Stored "
                       "encrypted; never echoed.", "multiline": True})


class RequestQuerySchema(StrictSchema):
    """Filters and paging for the request register; ordered by deadline, soonest first."""

    status = fields.String(validate=validate.OneOf(_REQUEST_STATUSES))
    type = fields.String(validate=validate.OneOf(_REQUEST_TYPES))
    overdue = QueryBoolean(metadata={
        "description": "true: only open requests past their deadline; false: only the others."})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_REQUEST_PAGE))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=2**31 - 1),
                            metadata={"description": "How many requests to skip: the "
                                                     "previous page's next_offset."})


class NotifiedClientSchema(Schema):
    """An API client that read the change feed past a request's completion (GDPR Art. 19)."""

    id = fields.UUID(required=True)
    name = fields.String(required=True)
    feed_cursor = fields.Integer(required=True, metadata={
        "description": "The highest change-feed cursor the client has been served."})


class RequestSummarySchema(Schema):
    """A data-subject request: where it stands and when it is due. No personal data."""

    id = fields.UUID(required=True)
    customer_id = fields.UUID(required=True)
    type = fields.String(required=True, validate=validate.OneOf(_REQUEST_TYPES))
    status = fields.String(required=True, validate=validate.OneOf(_REQUEST_STATUSES), metadata={
        "description": "received, awaiting-identity, in-progress, completed, refused, withdrawn."})
    channel = fields.String(required=True, metadata={
        "description": "portal, staff or api; inactivity: the controller closed an unused account."})
    purpose = fields.String(allow_none=True, required=True, metadata={
        "description": "The purpose objected to (objection only)."})
    received_at = fields.AwareDateTime(required=True)
    due_at = fields.AwareDateTime(required=True, metadata={
        "description": "The deadline: one calendar month after receipt (Art. 12(3)), or the "
                       "extended date."})
    extended = fields.Boolean(required=True, metadata={
        "description": "True if the deadline was extended (at most two further months)."})
    overdue = fields.Boolean(required=True, metadata={
        "description": "True if still open after its deadline."})
    completed_at = fields.AwareDateTime(allow_none=True, required=True, metadata={
        "description": "When it was completed, refused or withdrawn."})
    outcome = fields.String(allow_none=True, required=True)
    refusal_reason = fields.String(allow_none=True, required=True,
                                   validate=validate.OneOf([*_REFUSAL_REASONS, None]))


class RequestSchema(RequestSummarySchema):
    """A data-subject request, with the recipients told of it (GDPR Art. 19)."""

    notified_clients = fields.List(fields.Nested(NotifiedClientSchema), allow_none=True,
                                   required=True, metadata={
        "description": "Erasure, rectification and restriction requests (GDPR Art. 19): the "
                       "API clients that read the change feed past the request's completion; "
                       "empty until it is completed. Null for other types."})


class RequestPageSchema(Schema):
    """A page of the request register, soonest deadline first."""

    requests = fields.List(fields.Nested(RequestSummarySchema), required=True)
    total = fields.Integer(required=True,
                           metadata={"description": "Requests matching the filters."})
    next_offset = fields.Integer(allow_none=True, required=True, metadata={
        "description": "The offset of the next page; null on the last page."})
