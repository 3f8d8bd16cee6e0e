"""HTML error pages in the shared layout. They never echo input or personal data."""

from __future__ import annotations

import logging
import math
import time
from http import HTTPStatus

from flask import Flask, current_app, render_template
from werkzeug.exceptions import HTTPException

from consentmgr.extensions import limiter
from consentmgr.web.api.errors import handle_api_exception, is_api_request
from consentmgr.web.outage import is_database_outage, log_outage, mark_unavailable, retry_after

log = logging.getLogger(__name__)

_MESSAGES = {
    400: "The request could not be understood. Please go back and try again.",
    403: "You do not have permission to see this page.",
    404: "We could not find that page. The address may be mistyped, or the page may have moved.",
    405: "This page does not accept that kind of request.",
    413: "What you sent is too large for this form. Please go back and send less.",
    429: "Too many attempts. Please wait a moment and try again.",
    500: "Something went wrong on our side. It has been logged; please try again later.",
    503: "This service is unavailable for a moment, and nothing you sent was saved. "
         "Please try again in a minute.",
}


def render_error(status: int, title: str | None = None, message: str | None = None):
    """An error page with a fixed, data-free message for ``status``."""
    return (
        render_template(
            "error.html",
            title=title or _title(status),
            message=message or _MESSAGES.get(status, "The request failed."),
        ),
        status,
    )


def render_outage(exc: BaseException):
    """The 503 page for a database outage, with ``Retry-After``.

    Rendered without the blueprints' context processors, which read the
    database (the portal's policy version), and without flashed messages,
    which read the session (kept in the database): that is what just failed.
    """
    log_outage(exc)
    mark_unavailable()
    page = current_app.jinja_env.get_template("error.html").render(
        title=_title(503), message=_MESSAGES[503], get_flashed_messages=lambda **_: [])
    return page, 503, {"Retry-After": retry_after()}


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
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


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

