"""``/unsubscribe/<token>``: the one-click unsubscribe link of every marketing mail (RFC 8058).

* ``GET`` shows what will happen and a button; it changes nothing (link
  scanners and mail previews open links on their own: RFC 8058 §1).
* ``POST`` with the body ``List-Unsubscribe=One-Click`` is the mail
  platform's one click: it withdraws the consent at once and answers 200
  with a line of text.
* ``POST`` from the page's button does the same and shows the done page.

No sign-in and no CSRF token, by design: RFC 8058 §3.2 has the mail
platform POST without cookies or a token of ours, so the route is exempt
from CSRF protection (this view only). A forged cross-site
POST gains nothing: it must carry the signed token, and whoever holds the
token may already unsubscribe with it; all it can do is withdraw that one
consent, which the customer can give again in the portal. Tampered and
expired links change nothing (400 and 410 pages).
"""

from __future__ import annotations

from flask import Response, make_response, render_template, request

from consentmgr.consent.ledger import Evidence
from consentmgr.consent.unsubscribe import (
    ONE_CLICK_KEY,
    ONE_CLICK_VALUE,
    UnsubscribeLinkExpired,
    UnsubscribeLinkInvalid,
    UnsubscribeTarget,
    UnsubscribeTokens,
    preview_unsubscribe,
    unsubscribe,
)
from consentmgr.errors import DomainError
from consentmgr.extensions import csrf
from consentmgr.i18n import _, current_language, lazy_gettext
from consentmgr.policies.services import PolicyNotFound, current_version, get_notice
from consentmgr.runtime import runtime
from consentmgr.unit_of_work import unit_of_work
from consentmgr.web.errors import render_error
from consentmgr.web.public import bp

_CONFIRM_FIELD = "confirm"
# Kept with the event (encrypted under the customer's key): how the click reached us.
ONE_CLICK_NOTE = "One-click unsubscribe (RFC 8058) from the List-Unsubscribe header of a mail"
PAGE_NOTE = "Unsubscribe link from a mail, confirmed on its page"
# The link's errors speak English to every audience (the API too); its pages say the same
# in the reader's language.
_PAGES = {
    UnsubscribeLinkInvalid: (
        lazy_gettext("This unsubscribe link is not valid"),
        lazy_gettext("The link is incomplete or was changed, so nothing was changed. Use the link "
                     "from the mail exactly as it is, or manage your choices in your privacy "
                     "portal.")),
    UnsubscribeLinkExpired: (
        lazy_gettext("This unsubscribe link has expired"),
        lazy_gettext("Unsubscribe links work for a limited time, and this one is too old, so "
                     "nothing was changed. Use the link in a more recent mail, or withdraw your "
                     "consent in your privacy portal.")),
}


def _tokens() -> UnsubscribeTokens:
    return runtime().links.unsubscribe_tokens


def _no_referrer(body: str, status: int = 200) -> Response:
    # The token is in this page's URL: links from the page must not pass it on.
    response = make_response(body, status)
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def _problem(exc: DomainError) -> Response:
    title, message = _PAGES.get(type(exc), (exc.title, str(exc)))
    body, status = render_error(exc.status, str(title), str(message))
    return _no_referrer(body, status)


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe_link(token: str):
    """Confirm (GET) or make (POST) the withdrawal a signed unsubscribe link names."""
    try:
        target = _tokens().read(token)
        if request.method == "GET":
            outcome = preview_unsubscribe(target)
            return _no_referrer(render_template(
                "public/unsubscribe.html", outcome=outcome,
                purpose_title=_purpose_title(target.purpose, outcome.title)))
        return _withdraw(target)
    except DomainError as exc:
        return _problem(exc)


def _withdraw(target: UnsubscribeTarget) -> Response:
    one_click = request.form.get(ONE_CLICK_KEY) == ONE_CLICK_VALUE
    if not one_click and _CONFIRM_FIELD not in request.form:
        return _no_referrer(*render_error(
            400, _("Nothing was changed"),
            _("This address unsubscribes with a one-click request (RFC 8058) or the button on its "
              "page. Open the link from the mail and press the button.")))
    # Client details are kept only as keyed hashes (for a one-click POST: the mail platform's).
    evidence = Evidence(client_address=request.remote_addr,
                        user_agent=request.user_agent.string or None,
                        note=ONE_CLICK_NOTE if one_click else PAGE_NOTE)
    with unit_of_work():
        outcome = unsubscribe(target, evidence=evidence)
    if one_click:
        # The mail platform reads the status only: answer at once, briefly.
        response = _no_referrer("Unsubscribed.\n")
        response.mimetype = "text/plain"
        return response
    title = _purpose_title(target.purpose, outcome.title)
    return _no_referrer(render_template("public/unsubscribed.html", outcome=outcome,
                                        purpose_title=title))


def _purpose_title(slug: str, fallback: str) -> str:
    """The purpose's title as the policy in effect words it in the page's language."""
    try:
        return get_notice(current_version().version, slug, current_language()).title
    except PolicyNotFound:
        return fallback  # dropped from the policy since the mail went out


# RFC 8058 §3.2: the one-click POST carries no CSRF token and no cookie (see the
# module doc for why that is safe here). This view only: every other form keeps its check.
csrf.exempt(unsubscribe_link)
