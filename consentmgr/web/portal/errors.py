"""Errors on portal pages, turned into messages in one place.

Services raise :class:`~consentmgr.errors.DomainError`; the view's unit of
work has already rolled back what they did (see
:mod:`consentmgr.unit_of_work`). "Not found" becomes the 404 page (an
unknown purpose, another customer's receipt: never their data); any other
refusal of a form becomes a message on the page the form came from.
"""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_wtf.csrf import CSRFError

from consentmgr.errors import DomainError, NotFound
from consentmgr.i18n import _
from consentmgr.web.errors import render_error
from consentmgr.web.portal import bp

# Where a refused form sends the customer back to.
_RETURN_TO = {
    "portal.choose": "portal.consents",
    "portal.details": "portal.details",
    "portal.verify_receipt": "portal.verify_receipt",
    "portal.new_request": "portal.requests",
    "portal.erase": "portal.requests",
    "portal.withdraw": "portal.requests",
}


@bp.errorhandler(DomainError)
def domain_error(exc: DomainError):
    """A page message for a refused action; the 404 page for something not found."""
    if isinstance(exc, NotFound) or request.method != "POST":
        return render_error(exc.status, None if isinstance(exc, NotFound) else exc.title, str(exc))
    flash(str(exc), "error")
    return redirect(url_for(_RETURN_TO.get(request.endpoint or "", "portal.my_data")))


@bp.errorhandler(CSRFError)
def csrf_error(exc: CSRFError):
    """A form without a valid CSRF token: nothing was done; say how to recover."""
    return render_error(
        400, _("This form could not be accepted"),
        _("The form had expired or was not sent from this site, so nothing was changed. "
          "Go back, reload the page and try again."),
    )
