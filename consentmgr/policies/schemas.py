"""Marshmallow schemas for a policy file's YAML header.

:class:`PolicyHeaderSchema` turns the header into typed values
(:class:`~consentmgr.policies.document.Controller`, ``Purpose``, ...) or
fails with every problem at once. The messages are written for the person
editing the file: they say what was expected and what was found ("expected
text, got the number 2025 (put it in quotes)"), and :func:`field_problems`
names each one's field the way the file spells it (``purposes[2].interest``).

The fields are strict on purpose. YAML is forgiving (a bare ``2025`` is a
number, ``yes`` a boolean to some readers), and a policy is a promise to
customers: a value that is not plainly what the field means is an error,
never coerced.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

from consentmgr.errors import flatten_messages
from consentmgr.policies.document import (
    LEGAL_BASES,
    Contact,
    Controller,
    DataCategory,
    PostalAddress,
    Purpose,
    Transfer,
)

__all__ = ["PolicyHeaderSchema", "describe", "field_problems"]

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# Version labels appear in URLs (/privacy/<version>), and these two are pages
# of their own (/privacy/versions, /privacy/compare).
_VERSION_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
_RESERVED_LABELS = ("versions", "compare")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# International format preferred (+49 30 ...): the receipt is read anywhere.
_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{5,22}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_INDEX = re.compile(r"\.(\d+)(?=\.|$)")

_MISSING = "missing required field"
# A consent meant to outlast ten years should not expire at all (leave the field out).
MAX_VALID_FOR_DAYS = 3660
_LONGER_THAN_TEN_YEARS = (
    "at most 3660 days (ten years), got {input}; leave valid_for_days out for a consent "
    "that lasts until withdrawn"
)
# Closing accounts after less than three months of quiet would close people on a long
# holiday (and the warning comes 30 days before); later than ten years is not a period a
# customer can foresee (GDPR Art. 13(2)(a)).
MIN_INACTIVE_AFTER_DAYS = 90
MAX_INACTIVE_AFTER_DAYS = 3660
_INACTIVE_OUT_OF_RANGE = (
    f"expected a whole number of days from {MIN_INACTIVE_AFTER_DAYS} to "
    f"{MAX_INACTIVE_AFTER_DAYS} (ten years), got {{input}}; leave inactive_after_days out to "
    "keep inactive accounts open"
)
_EMPTY = "must not be empty"
_AT_LEAST_ONE = "must list at least one entry"


def describe(value: Any) -> str:
    """Say what a YAML value is, for a message: ``text 'no'``, ``the number 2025``, ``a list``."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"text {value!r}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def field_problems(messages: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Marshmallow's nested messages as ``(field, message)`` pairs, in their order.

    The field is spelt as in the file: ``purposes[1].data_categories[0]``.
    """
    return [
        (_INDEX.sub(r"[\1]", path), message)
        for path, found in flatten_messages(messages).items()
        for message in found
    ]


def _reject_blank(value: Any) -> None:
    if isinstance(value, str) and not value.strip():
        raise ValidationError(_EMPTY)


# --- fields ---------------------------------------------------------------------


class Text(fields.String):
    """Non-blank text, stripped. A number or a date is an error, not text."""

    default_error_messages = {"required": _MISSING, "null": _EMPTY}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str):
            raise ValidationError(f"expected text, got {describe(value)} (put it in quotes)")
        _reject_blank(value)
        return value.strip()


class ListedText(fields.String):
    """One entry of a list of texts (recipients, data categories used)."""

    default_error_messages = {"null": "expected text, got nothing"}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ValidationError(f"expected text, got {describe(value)}")
        return value.strip()


class Flag(fields.Field):
    """``true`` or ``false``, nothing else (the loader reads ``yes``/``no`` as text)."""

    default_error_messages = {"required": _MISSING, "null": _EMPTY}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        _reject_blank(value)
        if not isinstance(value, bool):
            raise ValidationError(f"expected true or false, got {describe(value)}")
        return value


class IsoDate(fields.Field):
    """A calendar date written ``YYYY-MM-DD`` (quoted or not)."""

    default_error_messages = {"required": _MISSING, "null": _EMPTY}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> date:
        _reject_blank(value)
        if type(value) is date:  # an explicit !!timestamp; a datetime is not a date here
            return value
        if isinstance(value, str) and _ISO_DATE.match(value.strip()):
            try:
                return date.fromisoformat(value.strip())
            except ValueError as exc:
                raise ValidationError(f"invalid date {value!r}: {exc}") from None
        raise ValidationError(f"expected an ISO date (YYYY-MM-DD), got {describe(value)}")


class Days(fields.Field):
    """A whole number of days, at least 1 (``true`` is not a number here).

    ``maximum``: refuse more days than that, with the message ``above``;
    ``minimum``: refuse fewer, with the message ``below``.
    """

    default_error_messages = {"required": _MISSING, "null": _EMPTY}
    _EXPECTED = "expected a whole number of days, at least 1, got"

    def __init__(self, *, maximum: int | None = None, above: str = "", minimum: int = 1,
                 below: str = "", **kwargs: Any) -> None:
        checks: list[Any] = [
            validate.Range(min=minimum, error=below) if minimum > 1 else
            validate.Range(min=1, error=f"{self._EXPECTED} the number {{input}}")]
        if maximum is not None:
            checks.append(validate.Range(max=maximum, error=above))
        super().__init__(validate=checks, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        _reject_blank(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError(f"{self._EXPECTED} {describe(value)}")
        return value


class Record(fields.Nested):
    """A YAML mapping checked by a nested schema."""

    default_error_messages = {
        "required": _MISSING,
        "null": "expected a mapping of fields, got nothing",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, dict):
            raise ValidationError(f"expected a mapping of fields, got {describe(value)}")
        return super()._deserialize(value, attr, data, **kwargs)


class Section(Record):
    """A mapping under a name of its own (``controller``, ``dpo``): null or blank is empty."""

    default_error_messages = {"null": _EMPTY}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        _reject_blank(value)
        return super()._deserialize(value, attr, data, **kwargs)


class Items(fields.List):
    """A YAML list. ``allow_empty``: ``[]`` (or nothing) is fine; otherwise one entry at least."""

    def __init__(self, inner: fields.Field, *, allow_empty: bool, **kwargs: Any) -> None:
        super().__init__(
            inner,
            required=True,
            allow_none=allow_empty,
            validate=None if allow_empty else validate.Length(min=1, error=_AT_LEAST_ONE),
            error_messages={
                "required": _MISSING + (" (use [] for none)" if allow_empty else ""),
                "null": "expected a list, got nothing",
            },
            **kwargs,
        )

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> tuple[Any, ...]:
        if not isinstance(value, list):
            raise ValidationError(f"expected a list, got {describe(value)}")
        return tuple(super()._deserialize(value, attr, data, **kwargs))


def _email() -> Text:
    return Text(
        required=True,
        validate=validate.Regexp(_EMAIL, error="{input!r} is not an email address"),
    )


def _slug() -> Text:
    return Text(
        required=True,
        validate=validate.Regexp(
            _SLUG, error="{input!r} is not a slug (lower-case letters, digits and '-')"
        ),
    )


# --- schemas --------------------------------------------------------------------


class _StrictSchema(Schema):
    """Refuses fields it does not know, naming the ones it does."""

    class Meta:
        unknown = EXCLUDE  # reported by _no_unknown_fields, in the file's order

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _no_unknown_fields(
        self, data: dict[str, Any], original: Mapping[Any, Any], **kwargs: Any
    ) -> None:
        # Unknown keys are usually typos of optional fields, which would
        # otherwise silently fall back to their default.
        if not isinstance(original, Mapping):
            return  # marshmallow has said so
        known = sorted(self.load_fields)
        unknown = {
            str(key): [f"unknown field (expected one of {', '.join(known)})"]
            for key in original
            if key not in self.load_fields
        }
        if unknown:
            raise ValidationError(unknown)


class PostalAddressSchema(_StrictSchema):
    """The controller's address in parts (for the Kantara consent receipt's ``address`` object)."""

    street_address = Text(required=True)
    postal_code = Text(required=True)
    locality = Text(required=True)
    region = Text()
    country = Text(
        required=True,
        validate=validate.Regexp(
            _COUNTRY, error="{input!r} is not an ISO 3166-1 alpha-2 country code, such as DE"
        ),
    )

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> PostalAddress:
        return PostalAddress(**data)


class ControllerSchema(_StrictSchema):
    """Who decides why and how the data is processed (GDPR Art. 13(1)(a)).

    ``phone`` and ``postal_address`` are optional, so files of versions
    published before they existed still load; every new version should
    state them (the Kantara consent receipt v1.1 requires both).
    """

    name = Text(required=True)
    address = Text(required=True)
    postal_address = Section(PostalAddressSchema)
    email = _email()
    phone = Text(
        validate=validate.Regexp(
            _PHONE,
            error="{input!r} is not a phone number (digits, spaces and dashes, "
            "e.g. +49 30 5550 1742)",
        )
    )

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> Controller:
        return Controller(**data)


class ContactSchema(_StrictSchema):
    """The data protection officer (GDPR Art. 13(1)(b))."""

    name = Text(required=True)
    email = _email()

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> Contact:
        return Contact(**data)


class DataCategorySchema(_StrictSchema):
    """A kind of personal data and how long it is kept (GDPR Art. 13(2)(a))."""

    slug = _slug()
    title = Text(required=True)
    description = Text(required=True)
    retention = Text(required=True)
    retention_days = Days(required=True)

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> DataCategory:
        return DataCategory(**data)


class TransferSchema(_StrictSchema):
    """A transfer outside the EEA and its safeguard (GDPR Art. 13(1)(f), 44-46)."""

    recipient = Text(required=True)
    country = Text(required=True)
    safeguard = Text(required=True)

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> Transfer:
        return Transfer(**data)


class PurposeSchema(_StrictSchema):
    """One purpose, as told to the customer."""

    slug = _slug()
    title = Text(required=True)
    description = Text(required=True)
    legal_basis = Text(
        required=True,
        validate=validate.OneOf(
            LEGAL_BASES, error="unknown legal basis {input!r} (expected one of {choices})"
        ),
    )
    interest = Text()
    data_categories = Items(ListedText(), allow_empty=False)
    retention = Text(required=True)
    recipients = Items(ListedText(), allow_empty=True)
    transfers = Items(Record(TransferSchema), allow_empty=True)
    sale_or_share = Flag(required=True)
    direct_marketing = Flag()
    valid_for_days = Days(maximum=MAX_VALID_FOR_DAYS, above=_LONGER_THAN_TEN_YEARS)

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _interest_goes_with_legitimate_interest(
        self, data: dict[str, Any], original: Mapping[str, Any], **kwargs: Any
    ) -> None:
        legal_basis = data.get("legal_basis")  # present only when valid
        if legal_basis == "legitimate-interest" and "interest" not in original:
            # GDPR Art. 13(1)(d): the legitimate interest pursued must be stated.
            raise ValidationError(
                "missing: legal_basis legitimate-interest must state the interest pursued",
                "interest",
            )
        if data.get("interest") is not None and legal_basis not in (None, "legitimate-interest"):
            raise ValidationError(
                "only allowed when legal_basis is legitimate-interest", "interest"
            )
        if data.get("valid_for_days") is not None and legal_basis not in (None, "consent"):
            # Only consent lapses; other bases last as long as the purpose needs.
            raise ValidationError("only allowed when legal_basis is consent", "valid_for_days")

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> Purpose:
        # recipients and transfers may be written as nothing at all: none.
        return Purpose(
            **{
                **data,
                "recipients": data.get("recipients") or (),
                "transfers": data.get("transfers") or (),
            }
        )


class PolicyHeaderSchema(_StrictSchema):
    """The YAML header of a policy file; loads to the keyword arguments of a ``PolicyDocument``
    (everything but the body, the text and the file name)."""

    version = Text(
        required=True,
        validate=[
            validate.Regexp(
                _VERSION_LABEL, error="{input!r} may contain only letters, digits, '.', '_' and '-'"
            ),
            validate.NoneOf(_RESERVED_LABELS, error="{input!r} is reserved; choose another label"),
        ],
    )
    effective_date = IsoDate(required=True)
    summary = Text(required=True)
    controller = Section(ControllerSchema, required=True)
    dpo = Section(ContactSchema, required=True)
    data_categories = Items(Record(DataCategorySchema), allow_empty=False)
    purposes = Items(Record(PurposeSchema), allow_empty=False)
    # Optional: customers inactive this long are closed and erased by the retention purge.
    inactive_after_days = Days(minimum=MIN_INACTIVE_AFTER_DAYS, below=_INACTIVE_OUT_OF_RANGE,
                               maximum=MAX_INACTIVE_AFTER_DAYS, above=_INACTIVE_OUT_OF_RANGE)

    def handle_error(self, error: ValidationError, data: Any, **kwargs: Any) -> None:
        """Report problems in the order of the file format, entries by position."""
        raise ValidationError(_in_field_order(error.messages, self), valid_data=error.valid_data)

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _slugs_are_unique_and_categories_declared(
        self, data: dict[str, Any], original: Mapping[str, Any], **kwargs: Any
    ) -> None:
        # Read from the original entries so that one broken entry does not
        # hide (or, by shifting positions, misplace) the problems of others.
        if not isinstance(original, Mapping):
            return
        problems: dict[str, dict[int, dict[str, Any]]] = {}
        categories = original.get("data_categories")
        purposes = original.get("purposes")
        for index, slug, first in _duplicate_slugs(categories):
            problems.setdefault("data_categories", {})[index] = {
                "slug": [f"duplicate data category {slug!r} (also data_categories[{first}])"]
            }
        for index, slug, first in _duplicate_slugs(purposes):
            # The slug is the purpose's identity in the consent ledger.
            problems.setdefault("purposes", {})[index] = {
                "slug": [f"duplicate purpose slug {slug!r} (also purposes[{first}])"]
            }
        declared = _declared_slugs(categories)
        if declared is not None and isinstance(purposes, list):
            listed = ", ".join(sorted(declared)) or "none"
            for index, purpose in enumerate(purposes):
                unknown = {
                    position: [f"unknown data category {slug!r} (declared: {listed})"]
                    for position, slug in enumerate(_categories_used(purpose))
                    if slug not in declared
                }
                if unknown:
                    entry = problems.setdefault("purposes", {}).setdefault(index, {})
                    entry["data_categories"] = unknown
        if problems:
            raise ValidationError(problems)


def _in_field_order(messages: Any, where: Schema | fields.Field | None) -> Any:
    """``messages`` reordered: a schema's unknown fields first, then its fields as declared;
    a list's entries by position (so what the checks across entries find sits with the rest)."""
    if not isinstance(messages, dict):
        return messages
    if isinstance(where, Schema):
        rank = {name: position for position, name in enumerate(where.fields)}
        keys = sorted(messages, key=lambda key: rank.get(key, -1))
        return {key: _in_field_order(messages[key], where.fields.get(key)) for key in keys}
    if isinstance(where, Record):
        return _in_field_order(messages, where.schema)
    if isinstance(where, fields.List):
        return {key: _in_field_order(messages[key], where.inner) for key in sorted(messages)}
    return messages


def _valid_slug(entry: Any) -> str | None:
    slug = entry.get("slug") if isinstance(entry, dict) else None
    if isinstance(slug, str) and _SLUG.match(slug.strip()):
        return slug.strip()
    return None


def _duplicate_slugs(entries: Any) -> list[tuple[int, str, int]]:
    """``(index, slug, first index)`` for each entry whose valid slug an earlier entry has."""
    if not isinstance(entries, list):
        return []
    first: dict[str, int] = {}
    duplicates = []
    for index, entry in enumerate(entries):
        slug = _valid_slug(entry)
        if slug is not None and first.setdefault(slug, index) != index:
            duplicates.append((index, slug, first[slug]))
    return duplicates


def _declared_slugs(entries: Any) -> set[str] | None:
    """Every slug the categories list names, valid entry or not, so one broken
    category does not also flag each purpose that uses it (None: no list)."""
    if not isinstance(entries, list):
        return None
    return {
        e["slug"].strip() for e in entries if isinstance(e, dict) and isinstance(e.get("slug"), str)
    }


def _categories_used(purpose: Any) -> tuple[str, ...]:
    """The categories a purpose lists, if the list itself is valid (else its own error says so)."""
    used = purpose.get("data_categories") if isinstance(purpose, dict) else None
    if not isinstance(used, list) or not all(isinstance(s, str) and s.strip() for s in used):
        return ()
    return tuple(s.strip() for s in used)
