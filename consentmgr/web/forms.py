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

from typing import Any

from flask_wtf import FlaskForm
from wtforms import TextAreaField

from consentmgr.i18n import lazy_gettext
from consentmgr.text import is_storable

UNSTORABLE_TEXT = lazy_gettext("This contains an invisible control character that we cannot "
                               "store. Please type it again.")


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
