"""Validation of customer details and history input (marshmallow).

Shared by the services, the portal forms and the API so that every entry
point accepts exactly the same data. Every schema refuses control characters
and unpaired surrogates in any text, naming the field
(:class:`~consentmgr.text.StorableTextSchema`): the services validate with
these schemas, so no caller can hand them text that cannot be stored.
"""

from __future__ import annotations

import datetime as dt

from marshmallow import RAISE, ValidationError, fields, validate, validates

from consentmgr.i18n import _, lazy_gettext
from consentmgr.text import StorableTextSchema

CHANNELS = ("email", "sms", "post", "phone")
LANGUAGES = ("de", "en", "es", "fr", "it", "nl", "pl", "pt", "sv", "da", "fi")
HISTORY_CHANNELS = ("web", "app", "store", "phone", "email", "chat", "post")
HISTORY_KINDS = (
    "purchase", "return", "support-contact", "complaint", "visit",
    "newsletter", "account-change", "delivery",
)

_PHONE = validate.Regexp(
    r"^\+?[0-9][0-9 ()-]{5,22}$",
    error=lazy_gettext("Enter a phone number of digits, spaces and dashes, e.g. +44 20 7946 0958."),
)


class PreferencesSchema(StorableTextSchema):
    """Contact channels, language and topics of interest."""

    class Meta:
        unknown = RAISE

    channels = fields.List(
        fields.String(validate=validate.OneOf(
            CHANNELS, error=lazy_gettext("Unknown channel: choose from {choices}."))),
        load_default=list,
        validate=validate.Length(max=len(CHANNELS)),
    )
    language = fields.String(
        load_default="en",
        validate=validate.OneOf(
            LANGUAGES, error=lazy_gettext("Unknown language: choose from {choices}.")),
    )
    topics = fields.List(
        fields.String(validate=validate.Length(min=1, max=40)),
        load_default=list,
        validate=validate.Length(max=20, error=lazy_gettext("Choose at most 20 topics.")),
    )


class CustomerDetailsSchema(StorableTextSchema):
    """A customer's personal details. Unknown fields are rejected."""

    class Meta:
        unknown = RAISE

    email = fields.Email(required=True, validate=validate.Length(max=254))
    name = fields.String(required=True, validate=validate.Length(
        min=1, max=200, error=lazy_gettext("Enter a name of at most {max} characters.")))
    phone = fields.String(allow_none=True, validate=[validate.Length(max=24), _PHONE])
    postal_address = fields.String(allow_none=True, validate=validate.Length(max=500),
                                   metadata={"multiline": True})
    date_of_birth = fields.Date(allow_none=True)
    preferences = fields.Nested(PreferencesSchema, load_default=dict)

    @validates("name")
    def _name_not_blank(self, value: str, **kwargs) -> None:
        if not value.strip():
            raise ValidationError(_("Enter a name."))

    @validates("date_of_birth")
    def _born_in_the_past(self, value: dt.date | None, **kwargs) -> None:
        if value is not None and not dt.date(1900, 1, 1) <= value < dt.date.today():
            raise ValidationError(_("Enter a date of birth in the past, after 1900."))


class HistoryEntrySchema(StorableTextSchema):
    """One interaction to add to a customer's history."""

    class Meta:
        unknown = RAISE

    occurred_at = fields.AwareDateTime(required=True, default_timezone=dt.timezone.utc)
    channel = fields.String(required=True, validate=validate.OneOf(HISTORY_CHANNELS))
    kind = fields.String(required=True, validate=validate.OneOf(HISTORY_KINDS))
    data_category = fields.String(
        required=True,
        validate=validate.Regexp(r"^[a-z0-9][a-z0-9-]{0,63}$",
                                 error=lazy_gettext("Use a data-category slug.")),
    )
    summary = fields.String(required=True, validate=validate.Length(min=1, max=500),
                            metadata={"multiline": True})
    details = fields.Dict(keys=fields.String(), load_default=dict)
