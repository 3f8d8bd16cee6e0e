"""The role matrix: agents serve customers, the DPO also audits, admins administer."""

from __future__ import annotations

import pytest

from consentmgr.staff.permissions import Permission, can

MATRIX = {
    "agent": {Permission.CUSTOMERS},
    "dpo": {Permission.CUSTOMERS, Permission.AUDIT},
    "admin": {Permission.ADMINISTER},
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
