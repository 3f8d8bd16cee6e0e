"""The languages pages, mails and receipts speak, and the one way code asks for a translation.

Flask-Babel chooses the language of a request (:mod:`consentmgr.web.language`);
code that writes for one customer outside their request -- a mail from the
worker, a receipt -- says which language with :func:`in_language`. Strings are
marked with :func:`gettext` (``_``) or, when they are built before any request
(form labels, module constants), :func:`lazy_gettext`, so that Babel's
extractor finds every one and a test can prove each has a translation.
"""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from typing import Any, Iterator, Mapping

from babel.dates import format_date
from flask_babel import force_locale, get_locale, gettext, lazy_gettext, ngettext

# English is the source language: a string with no translation shows in English.
DEFAULT_LANGUAGE = "en"
LANGUAGES = ("en", "de")
# Each name in its own language: the switcher is read by someone who may not read the current one.
LANGUAGE_NAMES = {"en": "English", "de": "Deutsch"}

_ = gettext


def supported(code: Any) -> str | None:
    """``code`` if pages can be shown in it (``"de-AT"`` counts as ``"de"``), else None."""
    if not isinstance(code, str):
        return None
    primary = code.strip().replace("_", "-").split("-", 1)[0].lower()
    return primary if primary in LANGUAGES else None


def language_of(preferences: Mapping[str, Any] | None) -> str:
    """The language to write to a customer in: their stated preference when we speak it."""
    return supported((preferences or {}).get("language")) or DEFAULT_LANGUAGE


def current_language() -> str:
    """The language of what is being written now (the request's, or the one forced)."""
    locale = get_locale()
    return (supported(str(locale)) if locale is not None else None) or DEFAULT_LANGUAGE


@contextmanager
def in_language(code: str | None) -> Iterator[str]:
    """Write in ``code`` (a supported language, else English) for the duration of the block."""
    language = supported(code) or DEFAULT_LANGUAGE
    with force_locale(language):
        yield language


# A day written out the way each language writes it in a letter.
_LONG_DATE = {"en": "d MMMM yyyy", "de": "d. MMMM yyyy"}


def long_date(day: dt.date) -> str:
    """``day`` (a date or datetime) written out in the current language: ``1 March 2027``,
    ``1. März 2027``. Works without a request, in the worker's :func:`in_language` block."""
    language = current_language()
    return format_date(day, _LONG_DATE.get(language, _LONG_DATE[DEFAULT_LANGUAGE]),
                       locale=language)


__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "LANGUAGE_NAMES", "_", "current_language", "gettext",
           "in_language", "language_of", "lazy_gettext", "long_date", "ngettext", "supported"]
