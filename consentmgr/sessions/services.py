"""The sessions area's public face: the store (one row's life), management, and labels.

The web layer's session interface (:mod:`consentmgr.web.sessions`) drives
:mod:`consentmgr.sessions.store`; the staff sessions page and the portal's
"sign out everywhere" use :mod:`consentmgr.sessions.manage`; importing this
module installs :mod:`consentmgr.sessions.revocation` (erasure and
deactivation end every session of their owner).
"""

from __future__ import annotations

from consentmgr.sessions import revocation  # noqa: F401  (installs the flush listener)
from consentmgr.sessions.labels import browser_label
from consentmgr.sessions.manage import (
    ActiveSession,
    SessionNotFound,
    active_staff_sessions,
    end_staff_session,
    sign_out_everywhere,
)
from consentmgr.sessions.models import EndReason, SessionKind, WebSession
from consentmgr.sessions.store import (
    TOUCH_INTERVAL,
    Ended,
    Opened,
    Policy,
    end_row,
    end_sessions_of,
    open_session,
    policy_from,
    purge,
    save_data,
    start_session,
    touch,
    well_formed,
)

__all__ = [
    "TOUCH_INTERVAL", "ActiveSession", "EndReason", "Ended", "Opened", "Policy",
    "SessionKind", "SessionNotFound", "WebSession",
    "active_staff_sessions", "browser_label", "end_row", "end_sessions_of",
    "end_staff_session", "open_session", "policy_from", "purge", "save_data", "sign_out_everywhere",
    "start_session", "touch", "well_formed",
]
