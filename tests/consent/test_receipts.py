"""Consent receipts: Kantara v1.1 fields, Ed25519 JWS, tamper detection."""

from __future__ import annotations

import json

import pytest

from consentmgr.consent import services
from consentmgr.consent.receipts import issue_receipt, jwks, receipt_claims, verify_receipt
from consentmgr.crypto.signing import (
    SignatureInvalid,
    b64url_decode,
    b64url_encode,
    jws_verify,
    load_private_key,
    public_jwk,
    public_key_from_jwk,
)
from consentmgr.runtime import runtime
from tests.consent.conftest import CUSTOMER_ACTOR

KANTARA_FIELDS = {"version", "jurisdiction", "consentTimestamp", "collectionMethod",
                  "consentReceiptID", "piiPrincipalId", "piiControllers", "policyUrl",
                  "services", "sensitive", "spiCat"}
OTHER_KEY = load_private_key(bytes(range(32)), source="test")


@pytest.fixture
def event(db, policies, create_customer):
    customer = create_customer()
    granted = services.grant_consent(customer, "personalisation", actor=CUSTOMER_ACTOR, channel="portal")
    db.session.commit()
    return granted


def test_receipt_has_the_kantara_fields(event):
    claims = receipt_claims(event)
    assert KANTARA_FIELDS <= set(claims)
    assert claims["version"] == "KI-CR-v1.1.0"
    assert isinstance(claims["consentTimestamp"], int)
    assert claims["consentReceiptID"] == str(event.id)
    assert claims["piiPrincipalId"] == str(event.customer_id)
    assert claims["policyUrl"].endswith("/privacy/2026-03")
    purpose = claims["services"][0]["purposes"][0]
    assert purpose["purposeCategory"] == ["personalisation"] and purpose["consentType"] == "EXPLICIT"
    assert claims["piiControllers"][0]["piiController"] == "Northwind Goods GmbH"


def test_receipt_verifies_with_the_published_key(event):
    token = issue_receipt(event)
    assert verify_receipt(token)["consentReceiptID"] == str(event.id)
    public = public_key_from_jwk(jwks()["keys"][0])
    assert json.loads(jws_verify(token, public).payload)["consentmgr"]["action"] == "granted"


def test_a_changed_byte_fails_verification(event):
    token = issue_receipt(event)
    header, payload, signature = token.split(".")
    claims = json.loads(b64url_decode(payload))
    claims["consentmgr"]["action"] = "withdrawn"
    forged = ".".join([header, b64url_encode(json.dumps(claims).encode()), signature])
    with pytest.raises(SignatureInvalid):
        verify_receipt(forged)
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(SignatureInvalid):
        verify_receipt(flipped)


def test_cli_verifies_a_receipt_file_and_rejects_a_forged_one(event, runner, tmp_path):
    good = tmp_path / "receipt.jws"
    good.write_text(issue_receipt(event))
    result = runner.invoke(args=["consent", "verify-receipt", str(good)])
    assert result.exit_code == 0, result.output
    assert f"Valid receipt {event.id}" in result.output
    bad = tmp_path / "forged.jws"
    bad.write_text(good.read_text()[:-4] + "AAAA")
    result = runner.invoke(args=["consent", "verify-receipt", str(bad)])
    assert result.exit_code == 1
    assert "INVALID" in result.output


def test_receipt_links_are_the_webs_own_policy_and_home_pages(app, event):
    links = runtime(app).links
    claims = receipt_claims(event)
    assert claims["policyUrl"] == links.policy("2026-03")
    assert claims["piiControllers"][0]["piiControllerUrl"] == links.home()


def test_receipt_is_signed_and_verified_with_the_key_given(event):
    token = issue_receipt(event, signing_key=OTHER_KEY)
    claims = verify_receipt(token, signing_key=OTHER_KEY)
    assert claims["publicKey"] == public_jwk(OTHER_KEY)["x"]
    assert jwks(signing_key=OTHER_KEY) == {"keys": [public_jwk(OTHER_KEY)]}
    with pytest.raises(SignatureInvalid):
        verify_receipt(token)  # the configured receipt key did not sign it


def test_without_a_key_the_configured_receipt_key_signs(app, event):
    configured = runtime(app).settings.receipt_signing_key
    token = issue_receipt(event)
    assert verify_receipt(token, signing_key=configured)["consentReceiptID"] == str(event.id)
    assert jwks() == {"keys": [public_jwk(configured)]}
