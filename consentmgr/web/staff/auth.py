"""Staff sessions: who is signed in, idle timeout, the role check, response headers.

The session is kept on the server (:mod:`consentmgr.web.sessions`, the
staff cookie); it holds the staff id (or, between the password and the code
step, the pending id) — never an email or name. Each request re-reads the
account, so a deactivation or a role change takes effect at the next click.
The server ends a session after :data:`STAFF_IDLE_MINUTES` without a request
or ``STAFF_SESSION_HOURS`` in all; the end of an idle session is audited.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Any, Callable

from flask import current_app, flash, g, redirect, request, session, url_for

from consentmgr.actors import Actor
from consentmgr.errors import DomainError
from consentmgr.i18n import _, current_language
from consentmgr.sessions.services import EndReason, SessionKind
from consentmgr.staff import services
from consentmgr.staff.models import StaffRole, StaffUser
from consentmgr.staff.permissions import Permission, can, record_access_denied
from consentmgr.unit_of_work import unit_of_work
from consentmgr.web.errors import render_error
from consentmgr.web.sessions import SUBJECT_KEYS, session_policy
from consentmgr.web.staff import bp
from consentmgr.web.staff.forms import ROLE_LABELS

DEFAULT_IDLE_MINUTES = 15
PENDING_SECONDS = 5 * 60  # between the password step and the code step

# Keys of the staff session (the staff cookie's own, on the server).
STAFF_ID = SUBJECT_KEYS[SessionKind.STAFF]
PENDING_ID = "staff_pending_id"
PENDING_AT = "staff_pending_at"
NEXT = "staff_next"


@dataclass(frozen=True)
class SignedInStaff:
    """The staff member behind this request, as plain values safe to use after a commit."""

    id: str
    role: StaffRole
    display_name: str
    actor: Actor

    @property
    def role_label(self) -> str:
        """The role as people say it."""
        return ROLE_LABELS[self.role]


def now() -> int:
    """Seconds since the epoch (one place, so tests can move the clock)."""
    return int(time.time())


def idle_seconds() -> int:
    """How long a session may sit unused (``STAFF_IDLE_MINUTES``, default 15)."""
    return int(current_app.config.get("STAFF_IDLE_MINUTES", DEFAULT_IDLE_MINUTES)) * 60


def request_info() -> dict[str, str | None]:
    """Request id and client address for audit entries (the address is stored hashed)."""
    return {"client_address": request.remote_addr, "request_id": g.get("request_id")}


def end_session(reason: EndReason = EndReason.SIGNED_OUT) -> None:
    """End the staff session on the server: its cookie opens nothing from now on."""
    session.end(reason)


def start_session(user: StaffUser) -> str:
    """Begin a fresh signed-in session for ``user``; returns where to go next.

    The whole session is cleared first and moves to a new id, so nothing
    set before the sign-in (by anyone who could plant a cookie) survives
    it: no session fixation.
    """
    target = session.get(NEXT)
    session.clear()
    session[STAFF_ID] = str(user.id)
    return target if _safe_next(target) else url_for("staff.home")


def start_pending(user: StaffUser) -> None:
    """Remember that ``user`` passed the password step (the code step comes next)."""
    target = session.get(NEXT)
    session.clear()
    session[PENDING_ID] = str(user.id)
    session[PENDING_AT] = now()
    if _safe_next(target):
        session[NEXT] = target


def pending_user() -> StaffUser | None:
    """The account that passed the password step in the last few minutes, if any."""
    staff_id, since = session.get(PENDING_ID), session.get(PENDING_AT, 0)
    if not staff_id or now() - int(since) > PENDING_SECONDS:
        return None
    return services.get_active_staff(staff_id)


def _safe_next(target: Any) -> bool:
    # Only our own staff pages: never an open redirect.
    return (isinstance(target, str) and target.startswith("/staff/")
            and not target.startswith("//") and "\\" not in target)


@bp.before_request
def load_signed_in_staff() -> None:
    """Identify the staff member and say (and record) why a session ended.

    ``g.request_id`` (for audit entries) is set by the app-wide request log.
    """
    g.staff = None
    g.sign_in_failed = False
    ended = getattr(session, "ended", None)
    if ended is not None and ended.staff_id is not None:
        _session_ran_out(ended.staff_id, ended.reason)
        return
    staff_id = session.get(STAFF_ID)
    if not staff_id:
        return
    user = services.get_active_staff(staff_id)
    if user is None:  # deactivated (or removed) since the last request
        end_session(EndReason.DEACTIVATED)
        return
    g.staff = SignedInStaff(id=str(user.id), role=StaffRole(user.role),
                            display_name=user.display_name or "", actor=services.staff_actor(user))


def _session_ran_out(staff_id: Any, reason: EndReason) -> None:
    user = services.get_active_staff(str(staff_id))
    if user is None:
        return
    with unit_of_work():
        services.sign_out(user, reason="idle" if reason == EndReason.IDLE else "lifetime",
                          **request_info())
    if reason == EndReason.IDLE:
        flash(_("You were signed out after %(minutes)s minutes without activity.",
                minutes=idle_seconds() // 60), "info")
    else:
        hours = int(session_policy(current_app, SessionKind.STAFF).lifetime.total_seconds()
                    // 3600)
        flash(_("You were signed out after %(hours)s hours: please sign in again.", hours=hours),
              "info")


@bp.after_request
def no_store(response):
    """Staff pages carry personal data or sign-in secrets: never cache or leak them."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    # Stricter than the app-wide same-origin (web/headers.py keeps a view's value).
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.app_template_global("staff_can")
def staff_can(permission: str) -> bool:
    """In templates: may the signed-in staff member use ``permission``?"""
    staff = g.get("staff")
    return staff is not None and can(staff.role, permission)


@bp.app_template_filter("in_sentence")
def in_sentence(label: Any) -> str:
    """A label used inside a sentence ("Reveal email address").

    English lower-cases it there; German keeps the capital every noun has.
    """
    text = str(label)
    return text.lower() if current_language() == "en" else text


def requires(permission: Permission | None = None) -> Callable:
    """Decorator: a signed-in staff member (holding ``permission``, if given).

    Visitors who are not signed in as staff — including customers signed in
    to the portal and staff between password and code — go to the sign-in
    page (and come back after it, for a GET); staff without the permission
    get 403, recorded as ``staff.access-denied``.
    """

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any):
            staff: SignedInStaff | None = g.get("staff")
            if staff is None:
                if request.method == "GET":
                    session[NEXT] = request.full_path.rstrip("?")
                return redirect(url_for("staff.sign_in"))
            if permission is not None and not can(staff.role, permission):
                with unit_of_work():
                    record_access_denied(staff.actor, screen=request.endpoint or "unknown",
                                         **request_info())
                return render_error(403)
            return view(*args, **kwargs)

        wrapped.staff_permission = permission  # for the authorization tests
        return wrapped

    return decorator


@bp.errorhandler(DomainError)
def domain_error(exc: DomainError):
    """A domain refusal on a staff screen: its own message, nothing half-done.

    The view's unit of work has already rolled back what the service did
    (or kept the record of a refused attempt, see ``keeps_record``).
    """
    return render_error(exc.status, exc.title, str(exc))
