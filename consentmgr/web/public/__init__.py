"""Public pages: the home page and the published privacy policy."""

from flask import Blueprint

bp = Blueprint("public", __name__)

from consentmgr.web.public import views  # noqa: E402,F401
