"""The audited staff screens, mounted at ``/staff``.

Who may open which screen is decided by :mod:`consentmgr.staff.permissions`
(the role matrix) through :func:`consentmgr.web.staff.auth.requires`; every
route carries that decorator or is one of the sign-in pages, and
``tests/web/staff/test_staff_authz.py`` checks every route for every kind of visitor.
"""

from flask import Blueprint

bp = Blueprint("staff", __name__, url_prefix="/staff")

from consentmgr.web.staff import (  # noqa: E402,F401
    admin,
    audit_log,
    auth,
    breaches,
    customers,
    dashboard,
    records,
    requests,
    sessions,
    views,
)
