"""HTML error pages in the shared layout. They never echo input or personal data."""

from __future__ import annotations

import logging
from http import HTTPStatus

from flask import Flask, render_template
from werkzeug.exceptions import HTTPException

from consentmgr.web.api.errors import handle_api_exception, is_api_request

log = logging.getLogger(__name__)

_MESSAGES = {
    400: "The request could not be understood. Please go back and try again.",
    403: "You do not have permission to see this page.",
    404: "We could not find that page. The address may be mistyped, or the page may have moved.",
    405: "This page does not accept that kind of request.",
    413: "What you sent is too large.",
    429: "Too many attempts. Please wait a moment and try again.",
    500: "Something went wrong on our side. It has been logged; please try again later.",
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
        response = render_error(exc.code or 500)
        if exc.code == 405 and exc.response is None:
            # Keep the Allow header werkzeug computed.
            headers = dict(exc.get_headers())
            return response[0], response[1], {"Allow": headers.get("Allow", "")}
        return response

    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception):
        if is_api_request():
            return handle_api_exception(exc)
        # SQL parameters are hidden at the engine (hide_parameters), and domain
        # messages never carry personal data, so the traceback is safe to log.
        log.exception("unhandled %s", type(exc).__name__)
        return render_error(500)

