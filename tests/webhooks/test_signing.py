"""Standard Webhooks signatures (consentmgr/crypto/webhook_signing.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from consentmgr.crypto.webhook_signing import (
    MalformedSecret,
    generate_secret,
    secret_key,
    sign,
    verify,
)


def test_a_secret_is_whsec_and_32_random_bytes():
    secret = generate_secret()
    assert secret.startswith("whsec_") and len(secret_key(secret)) == 32
    assert generate_secret() != secret


def test_the_signature_is_the_standard_webhooks_hmac_of_id_timestamp_and_body():
    # Computed independently with the standard library, as a receiver would.
    secret = generate_secret()
    body = b'{"type":"consent.changed"}'
    expected = base64.b64encode(hmac.new(secret_key(secret), b"msg_1.1700000000." + body,
                                         hashlib.sha256).digest()).decode()
    assert sign([secret], "msg_1", 1700000000, body) == f"v1,{expected}"


def test_verification_fails_for_another_id_timestamp_body_or_secret():
    secret = generate_secret()
    header = sign([secret], "msg_1", 1700000000, b"{}")
    assert verify(secret, "msg_1", 1700000000, b"{}", header)
    assert not verify(secret, "msg_2", 1700000000, b"{}", header)
    assert not verify(secret, "msg_1", 1700000001, b"{}", header)
    assert not verify(secret, "msg_1", 1700000000, b"{ }", header)
    assert not verify(generate_secret(), "msg_1", 1700000000, b"{}", header)


def test_several_secrets_give_several_signatures_each_verifying():
    new, old = generate_secret(), generate_secret()
    header = sign([new, old], "msg_1", 1, b"{}")
    assert len(header.split()) == 2
    assert verify(new, "msg_1", 1, b"{}", header) and verify(old, "msg_1", 1, b"{}", header)


@pytest.mark.parametrize("secret", ["whsec_not base64!", "whsec_" + base64.b64encode(b"short").decode()])
def test_a_malformed_secret_is_refused(secret):
    with pytest.raises(MalformedSecret):
        secret_key(secret)
