"""The staff directory: display names and roles for the staff ids in the audit trail."""

from __future__ import annotations

import uuid

from consentmgr.staff import accounts, directory
from consentmgr.staff.models import StaffRole
from tests.conftest import TEST_ACTOR


def test_the_directory_names_known_staff_and_skips_other_ids(db, create_staff_user):
    agent = create_staff_user("agent", name="Alex Agent")
    dpo = create_staff_user("dpo", name="Dana Officer")

    cards = directory.staff_directory([agent.id, dpo.id, str(uuid.uuid4()), "not-a-uuid"])

    assert cards == {agent.id: directory.StaffCard("Alex Agent", StaffRole.AGENT),
                     dpo.id: directory.StaffCard("Dana Officer", StaffRole.DPO)}


def test_the_directory_still_names_deactivated_staff(db, create_staff_user):
    create_staff_user("admin")
    leaver = create_staff_user("agent", name="Lou Leaver")
    accounts.deactivate(accounts.get_staff(leaver.id), actor=TEST_ACTOR)
    db.session.commit()

    assert directory.staff_directory([leaver.id])[leaver.id].display_name == "Lou Leaver"
