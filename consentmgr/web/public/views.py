"""Public views."""

from flask import render_template

from consentmgr.web.public import bp


@bp.get("/")
def home():
    """The landing page: where customers, staff and readers of the policy go."""
    return render_template("public/home.html")
