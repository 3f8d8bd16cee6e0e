"""Staff forms refuse text with a control character on its input; nothing is written."""

from __future__ import annotations

import html

import pytest
import sqlalchemy as sa

from consentmgr.consent.models import ConsentEvent
from consentmgr.web.forms import UNSTORABLE_TEXT
from tests.fixtures.staff import create_staff_user, csrf_token, sign_in_as  # noqa: F401


@pytest.fixture
def agent(client, create_staff_user):
    login = create_staff_user("agent", password=None)
    sign_in_as(client, login)
    return login


def test_nul_in_the_search_is_an_error_on_the_input(client, agent):
    response = client.post("/staff/customers", data={"csrf_token": csrf_token(client),
                                                     "query": "ada\x00@example.org"})
    assert response.status_code == 422
    assert str(UNSTORABLE_TEXT) in html.unescape(response.get_data(as_text=True))


def test_nul_in_a_consent_note_records_nothing(client, db, agent, publish_policy_files,
                                              create_customer):
    publish_policy_files()
    customer = create_customer()
    response = client.post(f"/staff/customers/{customer.id}/consent/personalisation",
                           data={"csrf_token": csrf_token(client),
                                 "personalisation-action": "grant",
                                 "personalisation-note": "Phone call\x00, ticket 42"})
    assert response.status_code == 422
    assert str(UNSTORABLE_TEXT) in html.unescape(response.get_data(as_text=True))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ConsentEvent)) == 0


def test_nul_in_the_audit_filter_is_an_error_not_a_failed_query(client, create_staff_user):
    sign_in_as(client, create_staff_user("dpo", password=None))
    response = client.get("/staff/audit", query_string={"actor": "staff\x00"})
    assert response.status_code in (200, 422)
    assert str(UNSTORABLE_TEXT) in html.unescape(response.get_data(as_text=True))
