"""Who is signed in to the portal: the session, the idle timeout, the GPC signal.

The session (a signed cookie) holds the customer's id and the time of their
last request, nothing else: no email, no name. Signing in clears whatever the
session held before, so a session fixed by someone else before sign-in (or
its CSRF token) is not carried over.
"""

from __future__ import annotations

import functools
import time
from typing import Any, Callable

from flask import current_app, flash, g, redirect, request, session, url_for

from consentmgr.consent.services import Evidence, NoPolicyPublished, gpc_honoured, honour_gpc
from consentmgr.customers.models import Customer, CustomerStatus
from consentmgr.customers.services import CustomerNotFound, get_customer
from consentmgr.customers.signin import portal_actor
from consentmgr.unit_of_work import unit_of_work

CUSTOMER_KEY = "portal_customer"
LAST_SEEN_KEY = "portal_last_seen"
# Pages anyone may open; every other portal page needs a signed-in customer.
PUBLIC_ENDPOINTS = {"portal.sign_in", "portal.sign_in_sent", "portal.confirm_sign_in",
                    "portal.sign_out"}


def start_session(customer: Customer) -> None:
    """Sign ``customer`` in, in a fresh session."""
    session.clear()
    session[CUSTOMER_KEY] = str(customer.id)
    session[LAST_SEEN_KEY] = time.time()


def end_session() -> None:
    """Sign out: forget everything the session held."""
    session.clear()


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
    """``before_request``: set ``g.customer`` (or None), enforce the idle timeout, honour GPC."""
    g.customer = None
    g.gpc_notice = False
    customer_id = session.get(CUSTOMER_KEY)
    if customer_id is None:
        return None
    now = time.time()
    last_seen = session.get(LAST_SEEN_KEY)
    if not isinstance(last_seen, (int, float)) or now - last_seen > idle_minutes() * 60:
        end_session()
        flash(f"You were signed out because you did nothing for {idle_minutes()} minutes. "
              "Please sign in again.", "info")
        return _to_sign_in()
    try:
        customer = get_customer(customer_id)
    except CustomerNotFound:
        customer = None
    if customer is None or customer.status == CustomerStatus.ERASED:
        end_session()
        return _to_sign_in()
    session[LAST_SEEN_KEY] = now
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
            flash("Please sign in to continue.", "info")
            return redirect(url_for("portal.sign_in"))
        return view(*args, **kwargs)

    return wrapped
