"""Portal forms refuse text with a control character on its input; nothing changes."""

from __future__ import annotations

import html

import pytest
import sqlalchemy as sa

from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from consentmgr.customers.models import Customer
from consentmgr.web.forms import UNSTORABLE_TEXT
from tests.web.portal.conftest import csrf_from

DETAILS = "/portal/details"
FORM = {"name": "Ada Lovelace", "email": "ada@example.org", "phone": "+44 20 7946 0958",
        "postal_address": "1 Example Street\r\nLondon", "date_of_birth": "1985-04-12",
        "channels": ["email"], "language": "en", "topics": "garden"}


def _held(db, customer_id) -> dict:
    db.session.expire_all()
    customer = db.session.get(Customer, customer_id)
    return {field: getattr(customer, field) for field in Customer.PERSONAL_FIELDS}


@pytest.mark.parametrize("field,value", [
    ("name", "Ada\x00Lovelace"),
    ("phone", "+44 20\x00 7946"),
    ("postal_address", "1 Example Street\x00\r\nLondon"),
    ("postal_address", "1 Example Street\x1b\r\nLondon"),
    ("topics", "garden\x00"),
    ("date_of_birth", "1985-04-12\x00"),
])
def test_a_control_character_in_the_details_form_is_an_error_on_its_input(
        client, db, signed_in, field, value):
    before = _held(db, signed_in.id)
    token = csrf_from(client.get(DETAILS).data)
    response = client.post(DETAILS, data={"csrf_token": token, **FORM, field: value})

    assert response.status_code == 422
    page = html.unescape(response.get_data(as_text=True))
    assert str(UNSTORABLE_TEXT) in page
    assert f'aria-describedby="{field}-error' in page or f'id="{field}-error' in page
    assert _held(db, signed_in.id) == before
    assert db.session.scalars(sa.select(AuditEntry).where(
        AuditEntry.action == actions.CUSTOMER_RECTIFIED)).all() == []


def test_line_breaks_in_the_address_are_still_fine(client, db, signed_in):
    token = csrf_from(client.get(DETAILS).data)
    response = client.post(DETAILS, data={"csrf_token": token, **FORM,
                                          "postal_address": "2 New Street\r\n\tLondon"})
    assert response.status_code == 302
    assert _held(db, signed_in.id)["postal_address"] == "2 New Street\n\tLondon"


def test_nul_in_the_sign_in_form_is_an_error_not_a_link(client, customer, db):
    from consentmgr.customers.models import PortalSignInToken

    token = csrf_from(client.get("/portal/sign-in").data)
    response = client.post("/portal/sign-in", data={"csrf_token": token,
                                                    "email": "ada@example.org\x00"})
    assert response.status_code in (200, 422)
    assert str(UNSTORABLE_TEXT) in html.unescape(response.get_data(as_text=True))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PortalSignInToken)) == 0
