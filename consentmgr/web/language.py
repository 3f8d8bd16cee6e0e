"""Which language a page is shown in, and the switcher that changes it.

The order (GDPR Art. 12: in a language the person understands): a signed-in
customer's stated preference, then the language they picked with the switcher
(a cookie, so it is remembered without an account), then the browser's
``Accept-Language``, then English. The switcher is a plain link: choosing a
language changes nothing but that cookie, so it needs no form and no session
(a public page must not start one). A signed-in customer's preference is
changed on the portal, where it is kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import (Blueprint, Flask, Response, abort, g, has_request_context, redirect, request,
                   url_for)
from flask_babel import Babel

from consentmgr.i18n import LANGUAGE_NAMES, LANGUAGES, current_language, language_of, supported
from consentmgr.runtime import runtime
from consentmgr.web.sessions import API_PREFIX

COOKIE = "consentmgr_language"
COOKIE_DAYS = 365
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"

bp = Blueprint("language", __name__)


def select_language() -> str | None:
    """Flask-Babel's locale selector: asked once per request, only when a page speaks."""
    if not has_request_context():
        return None  # the worker says which language with in_language()
    if request.path.startswith(API_PREFIX):
        return None  # the API answers programs: its messages stay English whatever they accept
    customer = g.get("customer")
    if customer is not None:
        stated = supported((customer.preferences or {}).get("language"))
        if stated:
            return stated
    return browser_language()


def browser_language() -> str | None:
    """The language picked with the switcher, else the best the browser's Accept-Language offers."""
    return supported(request.cookies.get(COOKIE)) or request.accept_languages.best_match(LANGUAGES)


def _local_path(target: Any) -> str:
    # Only a path on this site: never an open redirect.
    if not isinstance(target, str) or not target.startswith("/") or target.startswith("//") \
            or "\\" in target or urlsplit(target).netloc:
        return url_for("public.home")
    return target


@bp.get("/language/<code>")
def choose(code: str) -> Response:
    """Remember ``code`` as this browser's language and go back to the page it was chosen on."""
    language = supported(code)
    if language is None or language != code:
        abort(404)
    response = redirect(_local_path(request.args.get("next")), code=303)
    response.set_cookie(COOKIE, language, max_age=COOKIE_DAYS * 86400, path="/",
                        secure=runtime().settings.production, httponly=True, samesite="Lax")
    return response


def language_context() -> dict[str, Any]:
    """What every page template knows: its language, and the switcher's links back to it."""
    return page_language(back_to=request.full_path.rstrip("?"))


def page_language(*, back_to: str | None) -> dict[str, Any]:
    """``page_lang`` and the switcher's links, back to ``back_to`` (None: the start page)."""
    return {
        "page_lang": current_language(),
        "language_choices": [
            (code, LANGUAGE_NAMES[code], url_for("language.choose", code=code, next=back_to))
            for code in LANGUAGES],
    }


def vary_by_language(response: Response) -> Response:
    """``after_request``: a page's language depends on these headers; say so to caches."""
    if response.mimetype == "text/html":
        response.vary.update(("Accept-Language", "Cookie"))
        response.headers.setdefault("Content-Language", current_language())
    return response


def init_language(app: Flask) -> None:
    """Install Flask-Babel with the shipped catalogues, the switcher and the page context."""
    Babel(app, locale_selector=select_language,
          default_translation_directories=str(TRANSLATIONS))
    app.register_blueprint(bp)
    app.context_processor(language_context)
    app.after_request(vary_by_language)


__all__ = ["COOKIE", "browser_language", "init_language", "language_of", "page_language",
           "select_language"]
