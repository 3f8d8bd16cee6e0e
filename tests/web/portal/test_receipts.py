"""Consent receipts in the portal: download your own, never another's; verify one."""

from __future__ import annotations

import io
import uuid

import pytest

from consentmgr.consent import receipts
from consentmgr.consent import services as ledger
from consentmgr.crypto.signing import SignatureInvalid
from tests.consent.conftest import CUSTOMER_ACTOR
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


def test_a_receipt_downloads_as_a_signed_attachment(client, event):
    response = client.get(f"/portal/receipts/{event.id}.jws")

    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="consent-receipt-{event.id}.jws"')
    claims = receipts.verify_receipt(response.get_data(as_text=True))
    assert claims["consentReceiptID"] == str(event.id)
    assert claims["piiPrincipalId"] == str(event.customer_id)


def test_another_customers_receipt_is_a_404_without_their_data(client, db, create_customer, event):
    other = create_customer(name="Grace Hopper", email="grace@example.org")
    theirs = ledger.grant_consent(other, "marketing-sms",
                                  actor=CUSTOMER_ACTOR, channel="portal")
    db.session.commit()

    response = client.get(f"/portal/receipts/{theirs.id}.jws")

    assert response.status_code == 404
    body = response.get_data(as_text=True)
    assert str(other.id) not in body and "Grace" not in body and "eyJ" not in body


@pytest.mark.parametrize("event_id", ["not-a-uuid", str(uuid.uuid4())])
def test_an_unknown_receipt_id_is_a_404(client, event, event_id):
    assert client.get(f"/portal/receipts/{event_id}.jws").status_code == 404


def test_receipts_need_a_signed_in_customer(app, event):
    with app.test_client() as anonymous:
        response = anonymous.get(f"/portal/receipts/{event.id}.jws")

    assert response.status_code == 302 and b"eyJ" not in response.data


def test_a_pasted_receipt_is_verified(client, event):
    token = receipts.issue_receipt(event)

    response = verify(client, receipt=token)

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "This receipt is valid" in page and str(event.id) in page and "Yours." in page


def test_an_uploaded_receipt_file_is_verified(client, event):
    token = receipts.issue_receipt(event)

    response = verify(client, receipt_file=(io.BytesIO(token.encode()), "receipt.jws"))

    assert b"This receipt is valid" in response.data


def test_a_receipt_with_one_changed_character_is_not_valid_and_says_why(client, event):
    token = receipts.issue_receipt(event)
    payload_start = token.index(".") + 1
    altered = token[:payload_start + 5] + ("A" if token[payload_start + 5] != "A" else "B") + \
        token[payload_start + 6:]
    with pytest.raises(SignatureInvalid) as reason:
        receipts.verify_receipt(altered)

    response = verify(client, receipt=altered)

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "This receipt is not valid" in page and str(reason.value) in page


def test_verifying_nothing_asks_for_a_receipt(client, signed_in):
    response = verify(client, receipt="")

    assert response.status_code == 422
    assert b"Paste a receipt, or choose a receipt file." in response.data
    assert b'aria-describedby="receipt-hint receipt-error"' in response.data


def test_a_binary_file_is_not_a_receipt(client, signed_in):
    response = verify(client, receipt_file=(io.BytesIO(b"\xff\xfe\x00PNG"), "photo.png"))

    assert response.status_code == 422 and b"a receipt is plain text" in response.data


def test_a_huge_paste_is_refused_without_verifying(client, signed_in):
    response = verify(client, receipt="a" * 20_001)

    assert response.status_code == 422 and b"this is not one" in response.data


def test_the_receipt_key_is_published_as_a_jwks(client, event):
    response = client.get("/.well-known/jwks.json")

    assert response.status_code == 200
    assert response.mimetype == "application/jwk-set+json"
    assert response.get_json() == receipts.jwks()
    assert response.get_json()["keys"][0]["kty"] == "OKP"
