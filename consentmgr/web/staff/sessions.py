"""Signed-in sessions: a staff member's own, and (for administrators) everyone's; end any of them.

A session left open on another computer is a way in: its owner can end it
from here, and an administrator can end anyone's (a lost laptop, a leaver
before deactivation). Ending is audited as ``staff.session-ended``.
"""

from __future__ import annotations

from flask import current_app, flash, g, redirect, render_template, session, url_for

from consentmgr.i18n import _
from consentmgr.sessions.labels import UNKNOWN as UNKNOWN_BROWSER
from consentmgr.sessions.services import (
    EndReason,
    SessionKind,
    active_staff_sessions,
    end_staff_session,
)
from consentmgr.staff.permissions import Permission, can
from consentmgr.staff.services import staff_directory
from consentmgr.unit_of_work import unit_of_work
from consentmgr.web.errors import render_error
from consentmgr.web.sessions import session_policy
from consentmgr.web.staff import bp
from consentmgr.web.staff.auth import end_session, request_info, requires
from consentmgr.web.staff.forms import ConfirmForm


def _current_session_id():
    opened = getattr(session, "opened", None)
    return opened.id if opened is not None else None


@bp.get("/sessions")
@requires()
def session_list():
    """Your signed-in sessions (this one marked); administrators also see everyone's."""
    policy = session_policy(current_app, SessionKind.STAFF)
    mine = active_staff_sessions(policy=policy, staff_id=g.staff.id)
    everyone = (active_staff_sessions(policy=policy)
                if can(g.staff.role, Permission.ADMINISTER) else [])
    names = staff_directory(str(s.staff_id) for s in everyone)
    return render_template("staff/sessions.html", mine=mine, everyone=everyone, names=names,
                           current=_current_session_id(), confirm=ConfirmForm(),
                           unknown_browser=UNKNOWN_BROWSER)


@bp.post("/sessions/<session_id>/end")
@requires()
def session_end(session_id: str):
    """End one session: its cookie opens nothing from the next request on."""
    if not ConfirmForm().validate_on_submit():
        return render_error(400)
    with unit_of_work():  # SessionNotFound (404) for sessions that are gone or not the caller's
        end_staff_session(session_id, actor=g.staff.actor, **request_info())
    if str(_current_session_id()) == session_id:
        end_session(EndReason.ENDED)
        flash(_("You ended this session: you are signed out."), "info")
        return redirect(url_for("staff.sign_in"))
    flash(_("Session ended."), "info")
    return redirect(url_for("staff.session_list"))
