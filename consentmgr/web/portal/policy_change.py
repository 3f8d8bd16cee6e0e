"""The portal's banner for a published change of the privacy policy still to come.

Every portal page announces a version that takes effect later and changes
something material (:func:`consentmgr.notices.services.pending_change`):
what changes, from when, and a link to the comparison. The same thing the
notice mails say, for those who read the portal rather than their mail.
"""

from __future__ import annotations

from consentmgr.extensions import db
from consentmgr.i18n import current_language
from consentmgr.notices.services import pending_change
from consentmgr.web.portal import bp


@bp.context_processor
def pending_policy_change() -> dict[str, object]:
    """``pending_change``: the material change to come, or None."""
    return {"pending_change": pending_change(db.session, language=current_language())}
