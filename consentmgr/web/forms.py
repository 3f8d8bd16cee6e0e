"""The base of every page form: text that cannot be stored is an error on its input.

Browsers send form fields as UTF-8, which werkzeug decodes with
replacement characters, so an unpaired surrogate cannot arrive this way;
NUL and the other control characters can (``%00`` in a form body), and
PostgreSQL refuses NUL in text. The check runs when the form reads the
submitted data, so the error is on the input whether or not the view calls
``validate()``, and before any service or query sees the value. The rule
is the API's (:mod:`consentmgr.text`): tab and line breaks are allowed in
text areas only.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from flask_wtf import FlaskForm
from wtforms import TextAreaField

from consentmgr.i18n import gettext, lazy_gettext
from consentmgr.text import is_storable

UNSTORABLE_TEXT = lazy_gettext("This contains an invisible control character that we cannot "
                               "store. Please type it again.")


# Services and their marshmallow schemas answer in English (the API's language);
# a page shows their messages in its own. These are marshmallow's own messages
# that reach the forms, marked so that the catalogue holds them; a service's
# own messages are marked where they are written (or listed by its pages).
SCHEMA_MESSAGES = (
    lazy_gettext("Missing data for required field."),
    lazy_gettext("Field may not be null."),
    lazy_gettext("Invalid value."),
    lazy_gettext("Not a valid string."),
    lazy_gettext("Not a valid date."),
    lazy_gettext("Not a valid datetime."),
    lazy_gettext("Not a valid integer."),
    lazy_gettext("Not a valid email address."),
    lazy_gettext("Not a valid list."),
    lazy_gettext("Unknown field."),
)
# marshmallow's Length messages carry their numbers: matched, then translated with them.
_LENGTH = (
    (re.compile(r"Length must be between (\d+) and (\d+)\.$"),
     lambda m: gettext("Length must be between %(min)s and %(max)s.", min=m[1], max=m[2])),
    (re.compile(r"Longer than maximum length (\d+)\.$"),
     lambda m: gettext("Longer than maximum length %(max)s.", max=m[1])),
    (re.compile(r"Shorter than minimum length (\d+)\.$"),
     lambda m: gettext("Shorter than minimum length %(min)s.", min=m[1])),
)


def in_page_language(errors: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """A service's ``ValidationFailed.errors`` with each message the catalogue knows translated."""
    return {field: [_translated(str(message)) for message in messages]
            for field, messages in errors.items()}


def _translated(message: str) -> str:
    for pattern, translate in _LENGTH:
        found = pattern.match(message)
        if found:
            return translate(found)
    return gettext(message)


class StorableTextForm(FlaskForm):
    """A Flask-WTF form whose every submitted value is checked for unstorable text."""

    def process(self, formdata: Any = None, obj: Any = None, data: Any = None,
                extra_filters: Any = None, **kwargs: Any) -> None:
        """Read the submitted data, then mark each input that holds unstorable text."""
        super().process(formdata, obj, data=data, extra_filters=extra_filters, **kwargs)
        for field in self:
            multiline = isinstance(field, TextAreaField)
            raw = getattr(field, "raw_data", None) or []
            if any(isinstance(value, str) and not is_storable(value, multiline=multiline)
                   for value in raw):
                # process_errors survive validate(); errors shows them to views that
                # only read the data.
                field.process_errors.append(UNSTORABLE_TEXT)
                field.errors = [*field.errors, UNSTORABLE_TEXT]


def attach_errors(form: FlaskForm, errors: dict[str, list[str]]) -> None:
    """Put a service's ``ValidationFailed.errors`` on the form's inputs (or on the form)."""
    for name, messages in errors.items():
        field = form._fields.get(name)
        if field is None or name == "csrf_token":
            form.form_errors.extend(messages)
        else:
            field.errors = [*field.errors, *messages]
