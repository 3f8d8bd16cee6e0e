"""The portal and the JWKS across a receipt-key rotation."""

from __future__ import annotations

import pytest

from consentmgr.consent import receipts
from consentmgr.consent import services as ledger
from consentmgr.crypto.signing import jws_verify, key_id, public_key_from_jwk
from tests.consent.conftest import CUSTOMER_ACTOR
from tests.fixtures.signing import KEY_A, KEY_B
from tests.web.portal.conftest import csrf_from

VERIFY = "/portal/receipts/verify"


@pytest.fixture
def event(db, signed_in):
    """A grant by the signed-in customer."""
    granted = ledger.grant_consent(signed_in, "marketing-email", actor=CUSTOMER_ACTOR,
                                   channel="portal")
    db.session.commit()
    return granted


def verify(client, **data):
    token = csrf_from(client.get(VERIFY).data)
    return client.post(VERIFY, data={"csrf_token": token, **data},
                       content_type="multipart/form-data")


def test_a_receipt_downloaded_before_a_rotation_verifies_in_the_portal(client, event, signing_keys):
    downloaded = client.get(f"/portal/receipts/{event.id}.jws").get_data(as_text=True)

    signing_keys(receipt=[KEY_B, KEY_A])
    response = verify(client, receipt=downloaded)

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "This receipt is valid" in page and str(event.id) in page


def test_a_receipt_downloaded_after_a_rotation_is_signed_by_the_new_key(client, event, signing_keys):
    signing_keys(receipt=[KEY_B, KEY_A])

    downloaded = client.get(f"/portal/receipts/{event.id}.jws").get_data(as_text=True)

    assert receipts.verify_receipt(downloaded, signing_key=KEY_B)["consentReceiptID"] == str(event.id)
    assert "This receipt is valid" in verify(client, receipt=downloaded).get_data(as_text=True)


def test_a_receipt_by_a_retired_key_is_refused_with_the_reason(client, event, signing_keys):
    downloaded = client.get(f"/portal/receipts/{event.id}.jws").get_data(as_text=True)

    signing_keys(receipt=[KEY_B])
    response = verify(client, receipt=downloaded)

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "This receipt is not valid" in page and "signed by an unknown key" in page
    assert key_id(KEY_A) in page


def test_the_jwks_endpoint_publishes_both_keys_after_a_rotation(client, event, signing_keys):
    token = receipts.issue_receipt(event)
    signing_keys(receipt=[KEY_B, KEY_A])

    response = client.get("/.well-known/jwks.json")

    assert response.status_code == 200 and response.mimetype == "application/jwk-set+json"
    published = response.get_json()["keys"]
    assert [k["kid"] for k in published] == [key_id(KEY_B), key_id(KEY_A)]
    # Anyone can verify the older receipt with what is published, by its kid.
    by_kid = {k["kid"]: public_key_from_jwk(k) for k in published}
    assert jws_verify(token, by_kid).json()["consentReceiptID"] == str(event.id)
