"""Every staff route, for every kind of visitor: the expected status per cell.

Visitors: anonymous; a customer signed in to the portal (a session the
staff screens must not honour); staff between the password and the code
step ("pending"); and a signed-in agent, DPO and administrator. A route
added to the blueprint without a row here fails
``test_the_matrix_covers_every_staff_route``.

CSRF checking is switched off here so that each cell tests authorization
alone; ``test_staff_screens.py`` checks the CSRF protection of every form.
"""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from consentmgr.apiclients.services import create_client
from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from consentmgr.requests.services import file_request, place_legal_hold
from tests.conftest import TEST_ACTOR
from tests.fixtures.staff import create_staff_user, sign_in_as  # noqa: F401


VISITORS = ("anonymous", "customer", "pending", "agent", "dpo", "admin")
SIGN_IN = "/staff/sign-in"
R = "redirect to sign-in"  # 302 to /staff/sign-in

# (method, rule) -> expected status for anonymous, customer, pending, agent, dpo, admin.
MATRIX: dict[tuple[str, str], tuple] = {
    ("GET", "/staff/sign-in"): (200, 200, 200, 302, 302, 302),
    ("POST", "/staff/sign-in"): (422, 422, 422, 302, 302, 302),
    ("GET", "/staff/sign-in/code"): (R, R, 200, R, R, R),
    ("POST", "/staff/sign-in/code"): (R, R, 422, R, R, R),
    ("GET", "/staff/sign-in/authenticator"): (R, R, 302, R, R, R),
    ("POST", "/staff/sign-in/authenticator"): (R, R, 302, R, R, R),
    ("POST", "/staff/sign-out"): (R, R, R, R, R, R),
    ("GET", "/staff/set-password/<token>"): (404, 404, 404, 404, 404, 404),
    ("POST", "/staff/set-password/<token>"): (404, 404, 404, 404, 404, 404),
    ("GET", "/staff/"): (R, R, R, 200, 200, 200),
    ("GET", "/staff/customers"): (R, R, R, 200, 200, 403),
    ("POST", "/staff/customers"): (R, R, R, 422, 422, 403),
    ("GET", "/staff/customers/<customer_id>"): (R, R, R, 200, 200, 403),
    ("GET", "/staff/customers/<customer_id>/reveal/<field>"): (R, R, R, 200, 200, 403),
    ("POST", "/staff/customers/<customer_id>/reveal/<field>"): (R, R, R, 422, 422, 403),
    ("GET", "/staff/customers/<customer_id>/consent"): (R, R, R, 200, 200, 403),
    ("POST", "/staff/customers/<customer_id>/consent/<purpose>"): (R, R, R, 422, 422, 403),
    ("GET", "/staff/audit"): (R, R, R, 403, 200, 403),
    ("GET", "/staff/audit.csv"): (R, R, R, 403, 200, 403),
    ("GET", "/staff/admin/staff"): (R, R, R, 403, 403, 200),
    ("GET", "/staff/admin/staff/new"): (R, R, R, 403, 403, 200),
    ("POST", "/staff/admin/staff/new"): (R, R, R, 403, 403, 422),
    ("POST", "/staff/admin/staff/<staff_id>/role"): (R, R, R, 403, 403, 422),
    ("POST", "/staff/admin/staff/<staff_id>/deactivate"): (R, R, R, 403, 403, 302),
    ("POST", "/staff/admin/staff/<staff_id>/password-link"): (R, R, R, 403, 403, 200),
    ("GET", "/staff/admin/api-clients"): (R, R, R, 403, 403, 200),
    ("POST", "/staff/admin/api-clients"): (R, R, R, 403, 403, 422),
    ("POST", "/staff/admin/api-clients/<client_id>/revoke"): (R, R, R, 403, 403, 302),
    # Data-subject requests: agents file and follow, only the DPO decides. The
    # world's request awaits an identity check, so a decision on it is a 409.
    ("GET", "/staff/requests"): (R, R, R, 200, 200, 403),
    ("GET", "/staff/requests/new"): (R, R, R, 200, 200, 403),
    ("POST", "/staff/requests/new"): (R, R, R, 422, 422, 403),
    ("GET", "/staff/requests/<request_id>"): (R, R, R, 200, 200, 403),
    ("POST", "/staff/requests/<request_id>/identity"): (R, R, R, 422, 422, 403),
    ("POST", "/staff/requests/<request_id>/complete"): (R, R, R, 403, 409, 403),
    ("POST", "/staff/requests/<request_id>/approve"): (R, R, R, 403, 409, 403),
    ("POST", "/staff/requests/<request_id>/refuse"): (R, R, R, 403, 422, 403),
    ("POST", "/staff/requests/<request_id>/extend"): (R, R, R, 403, 422, 403),
    ("POST", "/staff/requests/<request_id>/objection"): (R, R, R, 403, 422, 403),
    ("POST", "/staff/requests/<request_id>/legal-holds"): (R, R, R, 403, 422, 403),
    ("POST", "/staff/requests/<request_id>/legal-holds/<hold_id>/lift"):
        (R, R, R, 403, 302, 403),
    ("POST", "/staff/requests/<request_id>/lift-restriction"): (R, R, R, 403, 302, 403),
    ("POST", "/staff/customers/<customer_id>/export"): (R, R, R, 403, 200, 403),
    # Sessions: everyone sees their own; ending one that is not there (or not
    # the caller's) is a 404.
    ("GET", "/staff/sessions"): (R, R, R, 200, 200, 200),
    ("POST", "/staff/sessions/<session_id>/end"): (R, R, R, 404, 404, 404),
}

# Issue 15: the Art. 30 record (DPO and admin) and the breach register (DPO). No breach is in
# the world, so the DPO's answers about one are 404; empty POST forms are 422. No policy is
# published in the world either: the record has no version to describe (404).
MATRIX.update({
    ("GET", "/staff/records-of-processing"): (R, R, R, 403, 404, 404),
    ("GET", "/staff/records-of-processing.csv"): (R, R, R, 403, 404, 404),
    ("GET", "/staff/records-of-processing.json"): (R, R, R, 403, 404, 404),
    ("GET", "/staff/breaches"): (R, R, R, 403, 200, 403),
    ("POST", "/staff/breaches"): (R, R, R, 403, 422, 403),
    ("GET", "/staff/breaches/<breach_id>"): (R, R, R, 403, 404, 403),
    ("POST", "/staff/breaches/<breach_id>/authority"): (R, R, R, 403, 404, 403),
    ("POST", "/staff/breaches/<breach_id>/decision"): (R, R, R, 403, 404, 403),
    ("POST", "/staff/breaches/<breach_id>/notify"): (R, R, R, 403, 404, 403),
})

# Issue 15: the DPO dashboard (DPO and admin). The world names no chart, so a CSV is a 404.
MATRIX.update({
    ("GET", "/staff/dashboard"): (R, R, R, 403, 200, 200),
    ("GET", "/staff/dashboard/<chart_id>.csv"): (R, R, R, 403, 404, 404),
})

CELLS = [(method, rule, visitor, expected[i])
         for (method, rule), expected in MATRIX.items() for i, visitor in enumerate(VISITORS)]


def test_the_matrix_covers_every_staff_route(app):
    routes = {(method, rule.rule) for rule in app.url_map.iter_rules()
              if rule.endpoint.startswith("staff.")
              for method in rule.methods - {"HEAD", "OPTIONS"}}

    assert routes == set(MATRIX)


@pytest.fixture
def world(db, create_customer, create_staff_user):
    """A customer, a colleague to administer, an API client, and one login per role."""
    customer = create_customer()
    target = create_staff_user("agent", password=None)
    client_row, _ = create_client("shop", ["consent:read"], actor=TEST_ACTOR)
    request_row = file_request(customer, "erasure", actor=TEST_ACTOR, channel="staff",
                               on_behalf=True)
    hold = place_legal_hold(customer, actor=TEST_ACTOR, exception="legal-claims")
    db.session.commit()
    logins = {role: create_staff_user(role, password=None) for role in ("agent", "dpo", "admin")}
    return {
        "values": {"customer_id": str(customer.id), "field": "phone", "purpose": "marketing-email",
                   "staff_id": target.id, "client_id": str(client_row.id),
                   "token": "x" * 43, "request_id": str(request_row.id),
                   "hold_id": str(hold.id)},
        "customer_id": str(customer.id),
        "logins": logins,
    }


def _visit_as(client, visitor: str, world) -> None:
    if visitor == "customer":
        sign_in_as(client, portal_customer=world["customer_id"], portal_last_seen=time.time())
    elif visitor == "pending":
        sign_in_as(client, staff_pending_id=world["logins"]["agent"].id,
                   staff_pending_at=int(time.time()))
    elif visitor != "anonymous":
        sign_in_as(client, world["logins"][visitor])


@pytest.mark.parametrize(("method", "rule", "visitor", "expected"), CELLS,
                         ids=[f"{m} {r} {v}" for m, r, v, _ in CELLS])
def test_each_visitor_gets_the_expected_answer(app, client, world, monkeypatch, method, rule,
                                               visitor, expected):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)
    path = rule
    for name, value in world["values"].items():
        path = path.replace(f"<{name}>", value)
    _visit_as(client, visitor, world)

    response = client.open(path, method=method, data={} if method == "POST" else None)

    if expected == R:
        assert response.status_code == 302
        assert response.location.endswith(SIGN_IN)
    else:
        assert response.status_code == expected


def test_a_forbidden_screen_is_audited_as_denied(app, client, world, db):
    sign_in_as(client, world["logins"]["admin"])
    assert client.get(f"/staff/customers/{world['customer_id']}").status_code == 403

    entry = db.session.scalar(sa.select(AuditEntry).where(
        AuditEntry.action == actions.STAFF_ACCESS_DENIED))
    assert (entry.actor_id, entry.outcome, entry.subject_id) == (
        world["logins"]["admin"].id, "denied", None)
    assert entry.details == {"screen": "staff.record"}
