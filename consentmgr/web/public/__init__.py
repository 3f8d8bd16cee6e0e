"""Public pages: the home page, the published privacy policy and the unsubscribe links."""

from flask import Blueprint

bp = Blueprint("public", __name__)

from consentmgr.web.public import views  # noqa: E402,F401
from consentmgr.web.public import unsubscribe  # noqa: E402,F401
