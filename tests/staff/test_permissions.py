"""The role matrix: agents serve customers, the DPO also audits, admins administer."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from consentmgr.actors import Actor
from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from consentmgr.staff.permissions import Permission, can, record_access_denied

MATRIX = {
    "agent": {Permission.CUSTOMERS},
    "dpo": {Permission.CUSTOMERS, Permission.AUDIT, Permission.REQUESTS_DECIDE,
            Permission.RECORDS_OF_PROCESSING, Permission.BREACHES, Permission.DASHBOARD},
    "admin": {Permission.ADMINISTER, Permission.RECORDS_OF_PROCESSING, Permission.DASHBOARD},
}


@pytest.mark.parametrize("role", sorted(MATRIX))
@pytest.mark.parametrize("permission", list(Permission))
def test_each_role_holds_exactly_its_permissions(role, permission):
    assert can(role, permission) is (permission in MATRIX[role])


def test_administrators_cannot_see_customer_records():
    assert not can("admin", Permission.CUSTOMERS)


@pytest.mark.parametrize("role", [None, "", "customer", "root"])
def test_an_unknown_role_holds_nothing(role):
    assert not any(can(role, permission) for permission in Permission)


def test_a_refused_screen_is_recorded_as_denied_with_the_screen_and_no_personal_data(db):
    agent = Actor("staff", "0b7c2f0e-5d7a-4b8e-9d8c-2f0e5d7a4b8e", role="agent")

    record_access_denied(agent, screen="staff.audit_log", client_address="198.51.100.7",
                         request_id="req-12345678")
    db.session.commit()

    entry = db.session.scalar(sa.select(AuditEntry))
    assert (entry.action, entry.outcome) == (actions.STAFF_ACCESS_DENIED, actions.DENIED)
    assert (entry.actor_id, entry.actor_role) == (agent.id, "agent")
    assert entry.details == {"screen": "staff.audit_log"} and entry.request_id == "req-12345678"
    assert "198.51.100.7" not in repr(entry.as_record())
