"""The consents page in German: German notices shown, and the German notice recorded."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from consentmgr.consent.models import ConsentEvent
from consentmgr.policies.services import document_of, get_version
from tests.web.portal.conftest import csrf_from

CONSENTS = "/portal/consents"


@pytest.fixture
def german_customer(publish_policy_files, create_customer, sign_in):
    """A signed-in customer whose stated language is German."""
    publish_policy_files()
    customer = create_customer(preferences={"channels": ["email"], "language": "de"})
    sign_in(customer)
    return customer


def test_the_consents_page_shows_the_german_notices(client, german_customer):
    page = client.get(CONSENTS).get_data(as_text=True)
    assert "Persönliche Empfehlungen" in page
    assert "Personal recommendations" not in page


def test_a_consent_given_on_the_german_page_records_german_and_the_german_hash(
        client, db, german_customer):
    token = csrf_from(client.get(CONSENTS).data)
    response = client.post("/portal/consents/personalisation/grant",
                           data={"csrf_token": token})
    assert response.status_code == 302
    event = db.session.scalar(sa.select(ConsentEvent))
    german = document_of(get_version("2026-03"), "de").purpose("personalisation")
    assert (event.language, event.notice_hash) == ("de", german.notice_hash)


def test_a_consent_given_on_the_english_page_records_english(client, db, signed_in):
    token = csrf_from(client.get(CONSENTS).data)
    client.post("/portal/consents/personalisation/grant", data={"csrf_token": token})
    event = db.session.scalar(sa.select(ConsentEvent))
    assert (event.language, event.notice_hash) == (
        "en", get_version("2026-03").purpose("personalisation").notice_hash)


def test_the_receipt_of_a_german_consent_says_german_and_verifies(client, db, german_customer):
    from consentmgr.consent.receipts import verify_receipt

    token = csrf_from(client.get(CONSENTS).data)
    client.post("/portal/consents/personalisation/grant", data={"csrf_token": token})
    event = db.session.scalar(sa.select(ConsentEvent))
    receipt = client.get(f"/portal/receipts/{event.id}.jws").get_data(as_text=True)
    claims = verify_receipt(receipt)
    assert claims["language"] == "de"
    assert claims["consentmgr"]["noticeHash"] == event.notice_hash
