"""Screens that record a view open only on a deliberate navigation (Sec-Fetch-Site).

A cross-site (or same-site) link gets an interstitial and writes nothing; a
same-origin navigation, one the user typed or bookmarked (``none``), and a
browser that sends no Fetch Metadata at all open the screen and record it.
"""

from __future__ import annotations

import html
import re

import pytest
import sqlalchemy as sa

from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from consentmgr.requests.services import file_request
from tests.conftest import TEST_ACTOR
from tests.fixtures.staff import create_staff_user, sign_in_as  # noqa: F401

SCREENS = {"record": "/staff/customers/{id}", "consent": "/staff/customers/{id}/consent"}
INTERSTITIAL = "You followed a link from another site"


@pytest.fixture
def agent(client, create_staff_user):
    login = create_staff_user("agent", password=None)
    sign_in_as(client, login)
    return login


@pytest.fixture
def customer(publish_policy_files, create_customer):
    publish_policy_files()
    return create_customer()


def _views(db, customer) -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(
        AuditEntry.action == actions.CUSTOMER_VIEW, AuditEntry.subject_id == customer.id))


def _get(client, path: str, site: str | None):
    headers = {} if site is None else {"Sec-Fetch-Site": site}
    return client.get(path, headers=headers)


@pytest.mark.parametrize("screen", SCREENS)
@pytest.mark.parametrize("site", ["cross-site", "same-site"])
def test_a_link_from_elsewhere_shows_an_interstitial_and_records_nothing(
        client, db, agent, customer, screen, site):
    path = SCREENS[screen].format(id=customer.id)
    response = _get(client, path, site)

    assert response.status_code == 200
    page = html.unescape(response.get_data(as_text=True))
    assert INTERSTITIAL in page
    assert f'href="{path}"' in page
    assert customer.email not in page
    assert _views(db, customer) == 0


@pytest.mark.parametrize("screen", SCREENS)
@pytest.mark.parametrize("site", ["same-origin", "none", None], ids=["same-origin", "none", "absent"])
def test_a_deliberate_navigation_opens_the_screen_and_records_it(
        client, db, agent, customer, screen, site):
    response = _get(client, SCREENS[screen].format(id=customer.id), site)

    assert response.status_code == 200
    assert INTERSTITIAL not in response.get_data(as_text=True)
    assert str(customer.id) in response.get_data(as_text=True)
    assert _views(db, customer) == 1


def test_the_interstitial_link_opens_the_record_as_a_same_origin_navigation(client, db, agent,
                                                                              customer):
    page = _get(client, f"/staff/customers/{customer.id}", "cross-site").get_data(as_text=True)
    target = html.unescape(re.search(r'<a class="button" href="([^"]+)"', page).group(1))

    response = _get(client, target, "same-origin")

    assert response.status_code == 200 and "Customer record" in response.get_data(as_text=True)
    assert _views(db, customer) == 1


def test_a_signed_out_cross_site_link_still_goes_to_sign_in(client, customer):
    response = _get(client, f"/staff/customers/{customer.id}", "cross-site")
    assert response.status_code == 302
    assert "/staff/sign-in" in response.headers["Location"]


def _entries(db, action: str) -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(
        AuditEntry.action == action))


@pytest.mark.parametrize(("site", "recorded"), [("cross-site", 0), ("same-origin", 1)])
def test_a_request_page_records_its_view_only_on_a_deliberate_navigation(
        client, db, agent, customer, site, recorded):
    req = file_request(customer, "access", actor=TEST_ACTOR, channel="staff")
    db.session.commit()

    response = _get(client, f"/staff/requests/{req.id}", site)

    assert response.status_code == 200
    assert (INTERSTITIAL in response.get_data(as_text=True)) is (recorded == 0)
    assert _views(db, customer) == recorded


@pytest.mark.parametrize(("site", "recorded"), [("cross-site", 0), ("none", 1)])
def test_the_audit_export_is_written_only_on_a_deliberate_navigation(
        client, db, create_staff_user, site, recorded):
    sign_in_as(client, create_staff_user("dpo", password=None))

    response = _get(client, "/staff/audit.csv", site)

    assert response.status_code == 200
    assert response.mimetype == ("text/html" if recorded == 0 else "text/csv")
    assert _entries(db, actions.AUDIT_EXPORTED) == recorded
