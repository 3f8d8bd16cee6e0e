"""HTML error pages in the shared layout. They never echo input or personal data."""

from __future__ import annotations

import logging
import math
import time
from http import HTTPStatus
from typing import Any

from flask import Flask, current_app, render_template
from werkzeug.exceptions import HTTPException

from consentmgr.extensions import limiter
from consentmgr.i18n import _, current_language, in_language, lazy_gettext
from consentmgr.web.api.errors import handle_api_exception, is_api_request
from consentmgr.web.language import browser_language, page_language
from consentmgr.web.outage import is_database_outage, log_outage, mark_unavailable, retry_after

log = logging.getLogger(__name__)

# Built before any request: lazy, so each page shows them in its own language.
_MESSAGES = {
    400: lazy_gettext("The request could not be understood. Please go back and try again."),
    403: lazy_gettext("You do not have permission to see this page."),
    404: lazy_gettext("We could not find that page. The address may be mistyped, or the page may "
                      "have moved."),
    405: lazy_gettext("This page does not accept that kind of request."),
    413: lazy_gettext("What you sent is too large for this form. Please go back and send less."),
    429: lazy_gettext("Too many attempts. Please wait a moment and try again."),
    500: lazy_gettext("Something went wrong on our side. It has been logged; please try again "
                      "later."),
    503: lazy_gettext("This service is unavailable for a moment, and nothing you sent was saved. "
                      "Please try again in a minute."),
}
# The statuses a page can answer with, worded as HTTP names them (RFC 9110 §15).
_TITLES = {
    400: lazy_gettext("Bad Request"),
    401: lazy_gettext("Unauthorized"),
    403: lazy_gettext("Forbidden"),
    404: lazy_gettext("Not Found"),
    405: lazy_gettext("Method Not Allowed"),
    409: lazy_gettext("Conflict"),
    410: lazy_gettext("Gone"),
    413: lazy_gettext("Request Entity Too Large"),
    415: lazy_gettext("Unsupported Media Type"),
    422: lazy_gettext("Unprocessable Entity"),
    429: lazy_gettext("Too Many Requests"),
    500: lazy_gettext("Internal Server Error"),
    503: lazy_gettext("Service Unavailable"),
}


def render_error(status: int, title: str | None = None, message: str | None = None):
    """An error page with a fixed, data-free message for ``status``."""
    return (
        render_template(
            "error.html",
            title=title or _title(status),
            message=message or _MESSAGES.get(status, _("The request failed.")),
            **_page_language(),
        ),
        status,
    )


def _page_language() -> dict[str, Any]:
    # An error page must not echo the address asked for (a mistyped address, an
    # unsubscribe token): its switcher returns to the start page.
    return page_language(back_to=None)


def render_outage(exc: BaseException):
    """The 503 page for a database outage, with ``Retry-After``.

    Rendered without the blueprints' context processors, which read the
    database (the portal's policy version), and without flashed messages,
    which read the session (kept in the database): that is what just failed.
    The page still speaks the reader's language and offers the switcher.
    """
    log_outage(exc)
    mark_unavailable()
    with in_language(_language_in_outage()):
        page = current_app.jinja_env.get_template("error.html").render(
            title=_title(503), message=_MESSAGES[503], get_flashed_messages=lambda **_: [],
            **_page_language())
    return page, 503, {"Retry-After": retry_after()}


def _language_in_outage() -> str | None:
    """The page's language, even when the customer's stated one cannot be read any more."""
    try:
        return current_language()
    except Exception:  # noqa: BLE001 -- their record is in the database that just failed
        return browser_language()


def rate_limit_retry_after() -> str:
    """Whole seconds until the breached Flask-Limiter window frees a request (at least 1).

    For ``Retry-After`` on every rate-limited page (RFC 9110 §10.2.3, RFC 6585 §4).
    Not Flask-Limiter's ``RATELIMIT_HEADERS_ENABLED``: that would add
    ``X-RateLimit-Remaining`` to every sign-in answer, and the per-address
    count it shows tells whether someone has been asking for an address's links.
    """
    current = limiter.current_limit
    if current is None or not current.breached:
        return "60"
    window = current.limit.get_expiry()
    return str(min(window, max(1, math.ceil(current.reset_at - time.time()))))


def _title(status: int) -> str:
    if status in _TITLES:
        return str(_TITLES[status])
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return _("Error")


def register_error_pages(app: Flask) -> None:
    """Install the HTML handlers; the API blueprint installs its own JSON ones."""

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if is_api_request():
            # Unknown /api/ URLs and wrong methods are routed at app level; they
            # still get application/problem+json, never an HTML page.
            return handle_api_exception(exc)
        original = getattr(exc, "original_exception", None)
        if exc.code == 500 and original is not None and is_database_outage(original):
            return render_outage(original)  # raised where no handler runs (opening the session)
        response = render_error(exc.code or 500)
        if exc.code == 405 and exc.response is None:
            # Keep the Allow header werkzeug computed.
            headers = dict(exc.get_headers())
            return response[0], response[1], {"Allow": headers.get("Allow", "")}
        if exc.code == 429:
            return response[0], response[1], {"Retry-After": rate_limit_retry_after()}
        return response

    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception):
        if is_api_request():
            return handle_api_exception(exc)
        if is_database_outage(exc):
            return render_outage(exc)
        # SQL parameters are hidden at the engine (hide_parameters), and domain
        # messages never carry personal data, so the traceback is safe to log.
        log.exception("unhandled %s", type(exc).__name__)
        return render_error(500)

