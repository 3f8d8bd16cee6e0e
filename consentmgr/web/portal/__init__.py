"""The customer self-service privacy portal (``/portal/``).

Customers sign in with a single-use emailed link, see everything held about
them (GDPR Art. 15), correct it (Art. 16), give, withdraw or object per
purpose (Arts. 7(3), 21), download signed receipts of their choices, and see
which staff members accessed their record. They download all of it at once
(Arts. 15(3), 20), and file and follow requests for erasure, restriction,
objection and rectification (:mod:`consentmgr.web.portal.requests`).

Settings (``app.config``, set from ``CONSENTMGR_<NAME>``; defaults below, tests lower them):

* ``PORTAL_IDLE_MINUTES`` — sign out after this long without a request.
* ``PORTAL_SIGN_IN_LIMIT_PER_ADDRESS`` — link requests per email address
  (counted under a keyed hash of the address, never the address itself).
* ``PORTAL_SIGN_IN_LIMIT_PER_CLIENT`` — link requests and sign-in attempts
  per client address.
* ``PORTAL_EMAIL_CHANGE_LIMIT`` — email changes asked for per customer
  (counted under a keyed hash of the customer's id).
* ``PORTAL_EMAIL_CHANGE_LIMIT_PER_CLIENT`` — email changes asked for and
  confirmation links used per client address.
"""

from __future__ import annotations

from flask import Blueprint

DEFAULTS = {
    "PORTAL_IDLE_MINUTES": 15,
    "PORTAL_SIGN_IN_LIMIT_PER_ADDRESS": "5 per 15 minutes",
    "PORTAL_SIGN_IN_LIMIT_PER_CLIENT": "20 per hour",
    "PORTAL_EMAIL_CHANGE_LIMIT": "5 per hour",
    "PORTAL_EMAIL_CHANGE_LIMIT_PER_CLIENT": "20 per hour",
}

bp = Blueprint("portal", __name__, url_prefix="/portal")


@bp.record_once
def _config_defaults(state) -> None:
    for key, value in DEFAULTS.items():
        state.app.config.setdefault(key, value)


from consentmgr.web.portal import errors, requests, views  # noqa: E402,F401
from consentmgr.web.portal import policy_change  # noqa: E402,F401
from consentmgr.web.portal.wellknown import wellknown as wellknown_bp  # noqa: E402

__all__ = ["bp", "wellknown_bp"]
