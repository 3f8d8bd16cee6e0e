"""Every portal form refuses a POST without its CSRF token, and changes nothing."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from consentmgr.consent.models import ConsentEvent
from consentmgr.customers.models import Customer
from consentmgr.customers.signin import PortalSignInToken
from tests.web.portal.conftest import mail_link

SIGNED_IN_FORMS = [
    ("/portal/details", {"name": "Mallory", "email": "mallory@example.org", "language": "en"}),
    ("/portal/consents/marketing-email/grant", {}),
    ("/portal/consents/marketing-email/withdraw", {}),
    ("/portal/consents/analytics/object", {}),
    ("/portal/receipts/verify", {"receipt": "x.y.z"}),
    ("/portal/sign-out", {}),
]


def is_signed_in(client) -> bool:
    return client.get("/portal/").status_code == 200


def test_asking_for_a_link_without_a_token_is_refused(client, db, customer):
    response = client.post("/portal/sign-in", data={"email": customer.email})

    assert response.status_code == 400
    assert b"This form could not be accepted" in response.data
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PortalSignInToken)) == 0


def test_confirming_a_link_without_a_token_is_refused(client, db, customer):
    path = mail_link(db, customer.email)

    response = client.post(path)

    assert response.status_code == 400
    assert db.session.scalar(sa.select(PortalSignInToken.used_at)) is None
    assert not is_signed_in(client)


def test_a_wrong_token_is_refused_too(client, db, customer):
    path = mail_link(db, customer.email)
    client.get(path)

    assert client.post(path, data={"csrf_token": "forged"}).status_code == 400


@pytest.mark.parametrize(("path", "data"), SIGNED_IN_FORMS)
def test_signed_in_forms_without_a_token_are_refused_and_change_nothing(client, db, signed_in,
                                                                        path, data):
    response = client.post(path, data=data)

    assert response.status_code == 400
    assert b"nothing was changed" in response.data
    db.session.expire_all()
    assert db.session.get(Customer, signed_in.id).name == "Ada Lovelace"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ConsentEvent)) == 0
    assert is_signed_in(client)  # not even signed out
