"""What text may be stored: no control characters, no unpaired surrogates.

A lone UTF-16 surrogate (``"\\ud800"`` in JSON) cannot be encoded as UTF-8,
so it would fail deep inside encryption; NUL is refused by PostgreSQL's text
type; other C0 control characters are invisible and have no place in a name
or an address. Every entry point rejects such text where it parses input
(the marshmallow schemas here, the page forms in ``web/forms.py``), naming
the field, so nothing half-checked reaches a service or the database.

Tab, line feed and carriage return are allowed only in fields marked
``multiline`` (``metadata={"multiline": True}``), and anywhere inside a
free-form mapping (``fields.Dict`` values).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, ValidationError, fields, pre_load

from consentmgr.errors import ValidationFailed

BAD_TEXT_MESSAGE = ("Contains a character that cannot be stored: a control character "
                    "(such as NUL) or an unpaired UTF-16 surrogate.")

# C0 controls and U+D800-U+DFFF (only unpaired surrogates survive JSON decoding).
_SINGLE_LINE = re.compile("[\x00-\x1f\ud800-\udfff]")
_MULTI_LINE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


def is_storable(text: str, *, multiline: bool = False) -> bool:
    """True if ``text`` has no control character (bar tab/newlines when ``multiline``)
    and no unpaired surrogate."""
    pattern = _MULTI_LINE if multiline else _SINGLE_LINE
    return pattern.search(text) is None


def unstorable_text(value: Any, *, multiline: bool = False) -> Any:
    """Where in a JSON-like ``value`` unstorable text is, as marshmallow-style messages.

    Returns None when all is well, a list of messages for a bad string, or a
    dict (keys and list positions) of those for containers. Mapping keys are
    checked as single-line text; a bad key is reported on its mapping (never
    echoed back as a field name).
    """
    if isinstance(value, str):
        return None if is_storable(value, multiline=multiline) else [BAD_TEXT_MESSAGE]
    if isinstance(value, Mapping):
        if _bad_key(value):
            return [BAD_TEXT_MESSAGE]
        found: dict[Any, Any] = {}
        for key in value:
            bad = unstorable_text(value[key], multiline=multiline)
            if bad is not None:
                found[key] = bad
        return found or None
    if isinstance(value, (list, tuple)):
        found = {}
        for index, item in enumerate(value):
            bad = unstorable_text(item, multiline=multiline)
            if bad is not None:
                found[index] = bad
        return found or None
    return None


def _bad_key(mapping: Mapping[Any, Any]) -> bool:
    return any(isinstance(key, str) and not is_storable(key) for key in mapping)


def _in_field(field: fields.Field | None, value: Any) -> Any:
    """Unstorable text in ``value`` as the schema field that will load it reads it."""
    if isinstance(field, fields.Nested):
        schema = field.schema
        if field.many and isinstance(value, (list, tuple)):
            found = {i: bad for i, item in enumerate(value)
                     if (bad := unstorable_input(schema, item)) is not None}
            return found or None
        return unstorable_input(schema, value)
    if isinstance(field, fields.List) and isinstance(value, (list, tuple)):
        found = {i: bad for i, item in enumerate(value)
                 if (bad := _in_field(field.inner, item)) is not None}
        return found or None
    if isinstance(field, fields.Mapping):
        # Free-form content (a history entry's details): multi-line values allowed,
        # keys single-line.
        return unstorable_text(value, multiline=True)
    multiline = bool(field is not None and field.metadata.get("multiline"))
    return unstorable_text(value, multiline=multiline)


def unstorable_input(schema: Schema, data: Any) -> Any:
    """Unstorable text in ``data`` about to be loaded by ``schema``, keyed like its errors."""
    if not isinstance(data, Mapping):
        return unstorable_text(data)
    if _bad_key(data):
        return [BAD_TEXT_MESSAGE]
    by_key = {field.data_key or name: field for name, field in schema.load_fields.items()}
    found: dict[Any, Any] = {}
    for key in data:
        bad = _in_field(by_key.get(key), data[key])
        if bad is not None:
            found[key] = bad
    return found or None


class StorableTextSchema(Schema):
    """Base of every input schema: refuses unstorable text in any field, by its path.

    The check runs before anything else is loaded, so a bad value is never
    handed to a validator, a service or the database.
    """

    def normalise_input(self, data: Any) -> Any:
        """Tidy the raw input before it is checked (default: as sent). Subclasses override."""
        return data

    @pre_load
    def _refuse_unstorable_text(self, data: Any, **kwargs: Any) -> Any:
        data = self.normalise_input(data)
        found = unstorable_input(self, data)
        if found:
            raise ValidationError(found)
        return data


def clean_text(value: object, field: str, *, required: bool, limit: int) -> str | None:
    """Stripped text of at most ``limit`` characters for a service; blank is None (or refused).

    Raises :class:`~consentmgr.errors.ValidationFailed` naming ``field``.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValidationFailed({field: ["This is required."]})
        return None
    if not isinstance(value, str):
        raise ValidationFailed({field: ["Enter text."]})
    text = value.strip()
    if len(text) > limit:
        raise ValidationFailed({field: [f"Keep this to {limit} characters or fewer."]})
    return text


#: A spreadsheet runs a cell that starts with one of these as a formula (CSV injection, OWASP).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: object) -> str:
    """``value`` as the text of a CSV cell a spreadsheet shows and never runs ("" for None)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text
