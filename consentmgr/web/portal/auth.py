"""Who is signed in to the portal: the session, the idle timeout, the GPC signal.

The session is kept on the server (:mod:`consentmgr.web.sessions`); the
portal's part of it holds the customer's id, nothing else: no email, no
name. Signing in clears whatever the session held before and moves it to a
new id, so a session fixed by someone else before sign-in (or its CSRF
token) is not carried over. Signing out ends the session on the server: a
copy of the cookie taken before opens nothing afterwards. The idle timeout
(``PORTAL_IDLE_MINUTES``) and the absolute lifetime (``PORTAL_SESSION_HOURS``)
are judged by the server from the session's row.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from flask import current_app, flash, g, redirect, request, session, url_for

from consentmgr.consent.services import Evidence, NoPolicyPublished, gpc_honoured, honour_gpc
from consentmgr.customers.models import Customer, CustomerStatus
from consentmgr.customers.services import CustomerNotFound, get_customer
from consentmgr.customers.signin import portal_actor
from consentmgr.i18n import _, ngettext
from consentmgr.sessions import services as sessions
from consentmgr.sessions.services import EndReason, SessionKind
from consentmgr.unit_of_work import unit_of_work
from consentmgr.web.portal import bp
from consentmgr.web.sessions import SUBJECT_KEYS, session_policy

CUSTOMER_KEY = SUBJECT_KEYS[SessionKind.PORTAL]
# Pages anyone may open; every other portal page needs a signed-in customer.
# The email-change link is among them: it is opened from a mailbox, often
# after the portal session has idled out, and the token alone authorises it.
PUBLIC_ENDPOINTS = {"portal.sign_in", "portal.sign_in_sent", "portal.confirm_sign_in",
                    "portal.sign_out", "portal.confirm_email_change"}


def start_session(customer: Customer) -> None:
    """Sign ``customer`` in, in a fresh session under a new id."""
    session.clear()
    session[CUSTOMER_KEY] = str(customer.id)


def end_session(reason: EndReason = EndReason.SIGNED_OUT) -> None:
    """Sign out: end the session on the server and forget everything it held."""
    session.end(reason)


def idle_minutes() -> int:
    """Minutes without a request after which the customer is signed out."""
    return int(current_app.config["PORTAL_IDLE_MINUTES"])


def client_evidence(*, gpc: bool = False) -> Evidence:
    """Evidence of how a choice was made: the ledger keeps the client details only as hashes."""
    return Evidence(gpc=gpc, client_address=request.remote_addr,
                    user_agent=request.user_agent.string or None)


def gpc_signal() -> bool:
    """True if the browser sent a Global Privacy Control signal with this request."""
    return request.headers.get("Sec-GPC", "").strip() == "1"


def load_signed_in_customer() -> Any:
    """``before_request``: set ``g.customer`` (or None), say why a session ended, honour GPC."""
    g.customer = None
    g.gpc_notice = False
    ended = getattr(session, "ended", None)
    if ended is not None and ended.customer_id is not None:
        if ended.reason == EndReason.IDLE:
            flash(ngettext("You were signed out because you did nothing for %(num)d minute. "
                           "Please sign in again.",
                           "You were signed out because you did nothing for %(num)d minutes. "
                           "Please sign in again.", idle_minutes()), "info")
        else:
            hours = int(session_policy(current_app, SessionKind.PORTAL).lifetime.total_seconds()
                        // 3600)
            flash(ngettext("You were signed out because you have been signed in for %(num)d hour. "
                           "Please sign in again.",
                           "You were signed out because you have been signed in for %(num)d hours. "
                           "Please sign in again.", hours), "info")
        return _to_sign_in()
    customer_id = session.get(CUSTOMER_KEY)
    if customer_id is None:
        return None
    try:
        customer = get_customer(customer_id)
    except CustomerNotFound:
        customer = None
    if customer is None or customer.status == CustomerStatus.ERASED:
        end_session(EndReason.ERASED)
        return _to_sign_in()
    g.customer = customer
    if gpc_signal():
        _honour_gpc(customer)
    return None


def _to_sign_in() -> Any:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    return redirect(url_for("portal.sign_in"))


def _honour_gpc(customer: Customer) -> None:
    # The signal is the customer's choice in its own right, so it is recorded
    # and committed here, in its own unit of work, whatever the page then
    # does. honour_gpc records at most one opt-out per purpose, so repeated
    # requests add nothing.
    try:
        with unit_of_work():
            honour_gpc(customer, actor=portal_actor(customer), evidence=client_evidence(gpc=True))
    except NoPolicyPublished:
        return
    g.gpc_notice = gpc_honoured(customer)


def customer_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Send visitors who are not signed in to the sign-in page."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.get("customer") is None:
            flash(_("Please sign in to continue."), "info")
            return redirect(url_for("portal.sign_in"))
        return view(*args, **kwargs)

    return wrapped


@bp.post("/sign-out-everywhere")
@customer_required
def sign_out_everywhere():
    """End every session of this customer, on every device (a lost phone, a shared computer)."""
    with unit_of_work():
        sessions.sign_out_everywhere(g.customer.id, actor=portal_actor(g.customer))
    end_session(EndReason.EVERYWHERE)
    flash(_("You have signed out on every device."), "success")
    return redirect(url_for("portal.sign_in"))
