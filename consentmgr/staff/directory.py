"""The staff directory: who a staff id in the audit trail is, as customers and the DPO see it.

Audit entries hold staff ids only (a name is personal data and is not
kept in the trail); screens that show the trail look the names up here, at
read time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import sqlalchemy as sa

from consentmgr.extensions import db
from consentmgr.sql import as_uuid
from consentmgr.staff.models import StaffRole, StaffUser


@dataclass(frozen=True)
class StaffCard:
    """What a customer may learn about a staff member who accessed their data."""

    display_name: str
    role: StaffRole


def staff_directory(staff_ids: Iterable[str]) -> dict[str, StaffCard]:
    """Display name and role for each known id (``str(uuid)``); unknown ids are left out.

    For the customer's "Who has accessed my data" page (GDPR Art. 15:
    transparency about who processed their data) and the DPO's audit
    browser. Deactivated accounts are included; their accesses still count.
    """
    wanted = {key for key in map(as_uuid, staff_ids) if key is not None}
    if not wanted:
        return {}
    users = db.session.scalars(sa.select(StaffUser).where(StaffUser.id.in_(wanted)))
    return {str(u.id): StaffCard(display_name=u.display_name or "", role=StaffRole(u.role))
            for u in users}
