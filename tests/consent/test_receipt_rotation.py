"""Receipt keys rotate: receipts signed before still verify, in the service and with verify-receipt."""

from __future__ import annotations

import pytest

from consentmgr.consent import services
from consentmgr.consent.receipts import issue_receipt, jwks, verify_receipt
from consentmgr.crypto.signing import UnknownSigningKey, jws_header, key_id, public_jwk
from tests.consent.conftest import CUSTOMER_ACTOR
from tests.fixtures.signing import KEY_A, KEY_B


@pytest.fixture
def event(db, policies, create_customer):
    customer = create_customer()
    granted = services.grant_consent(customer, "personalisation", actor=CUSTOMER_ACTOR,
                                     channel="portal")
    db.session.commit()
    return granted


def test_a_receipt_signed_before_a_rotation_still_verifies(event, signing_keys):
    before = issue_receipt(event)
    assert jws_header(before)["kid"] == key_id(KEY_A)

    signing_keys(receipt=[KEY_B, KEY_A])

    assert verify_receipt(before)["consentReceiptID"] == str(event.id)


def test_after_a_rotation_the_new_key_signs_and_names_itself(event, signing_keys):
    signing_keys(receipt=[KEY_B, KEY_A])

    after = issue_receipt(event)

    assert jws_header(after)["kid"] == key_id(KEY_B)
    claims = verify_receipt(after)
    assert claims["publicKey"] == public_jwk(KEY_B)["x"]


def test_the_jwks_publishes_every_receipt_key_with_its_kid(event, signing_keys):
    signing_keys(receipt=[KEY_B, KEY_A])
    assert [k["kid"] for k in jwks()["keys"]] == [key_id(KEY_B), key_id(KEY_A)]


def test_a_receipt_whose_key_was_retired_fails_as_signed_by_an_unknown_key(event, signing_keys):
    before = issue_receipt(event)

    signing_keys(receipt=[KEY_B])

    with pytest.raises(UnknownSigningKey, match="signed by an unknown key") as caught:
        verify_receipt(before)
    assert caught.value.kid == key_id(KEY_A)


def test_verify_receipt_command_accepts_a_receipt_from_before_the_rotation(
        event, signing_keys, runner, tmp_path):
    path = tmp_path / "receipt.jws"
    path.write_text(issue_receipt(event))
    signing_keys(receipt=[KEY_B, KEY_A])

    result = runner.invoke(args=["consent", "verify-receipt", str(path)])

    assert result.exit_code == 0, result.output
    assert f"Valid receipt {event.id}" in result.output


def test_verify_receipt_command_rejects_a_retired_key_clearly(event, signing_keys, runner, tmp_path):
    path = tmp_path / "receipt.jws"
    path.write_text(issue_receipt(event))
    signing_keys(receipt=[KEY_B])

    result = runner.invoke(args=["consent", "verify-receipt", str(path)])

    assert result.exit_code == 1
    assert "INVALID" in result.output and "signed by an unknown key" in result.output
    assert key_id(KEY_A) in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
