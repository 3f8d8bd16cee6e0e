"""Ed25519 keys from configuration, JWKs with thumbprint ids, compact EdDSA JWS."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consentmgr.crypto import KeyConfigError
from consentmgr.crypto import signing

# RFC 8037, Appendix A.1-A.4.
RFC_D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
RFC_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
RFC_JWS = (
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
)
RAW = bytes(range(32))


def rfc_key():
    return signing.load_private_key(RFC_D, source="TEST_KEY")


def test_public_jwk_and_key_id_match_the_rfc_8037_example():
    jwk = signing.public_jwk(rfc_key())
    assert (jwk["kty"], jwk["crv"], jwk["x"], jwk["kid"]) == ("OKP", "Ed25519", RFC_X, RFC_THUMBPRINT)


def test_jws_from_rfc_8037_verifies_and_yields_its_payload():
    verified = signing.jws_verify(RFC_JWS, rfc_key().public_key())
    assert verified.payload == b"Example of Ed25519 signing"
    assert verified.header == {"alg": "EdDSA"}


@pytest.mark.parametrize(
    "material",
    [
        base64.b64encode(RAW).decode(),
        base64.urlsafe_b64encode(RAW).decode().rstrip("="),
        "  " + base64.b64encode(RAW).decode() + "\n",
        RAW,
    ],
    ids=["base64", "base64url", "whitespace", "raw-bytes"],
)
def test_private_key_loads_from_every_accepted_form(material):
    key = signing.load_private_key(material, source="TEST_KEY")
    assert signing.private_key_text(key) == base64.b64encode(RAW).decode()


def test_private_key_loads_from_an_openssl_pem_file():
    original = Ed25519PrivateKey.from_private_bytes(RAW)
    pem = original.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    assert signing.key_id(signing.load_private_key(pem, source="TEST_KEY")) == signing.key_id(original)


@pytest.mark.parametrize(
    "material, message",
    [
        ("", "TEST_KEY is empty"),
        ("not base64!", "TEST_KEY: not valid base64"),
        (base64.b64encode(b"k" * 16).decode(), "TEST_KEY: an Ed25519 private key is 32 bytes, got 16"),
        ("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----", "TEST_KEY: not a readable"),
    ],
)
def test_malformed_private_key_is_a_clear_error_naming_the_setting(material, message):
    with pytest.raises(KeyConfigError) as caught:
        signing.load_private_key(material, source="TEST_KEY")
    assert message in str(caught.value)


def test_key_material_never_appears_in_an_error():
    secret = base64.b64encode(b"s" * 31).decode()
    with pytest.raises(KeyConfigError) as caught:
        signing.load_private_key(secret, source="TEST_KEY")
    assert secret not in str(caught.value)


def test_generated_key_text_loads_as_a_key():
    text = signing.generate_private_key_text()
    assert signing.private_key_text(signing.load_private_key(text, source="T")) == text


def test_signature_verifies_only_for_the_signed_bytes_and_key():
    key = rfc_key()
    signature = signing.sign(key, b"checkpoint 42")
    assert signing.verify(key.public_key(), signature, b"checkpoint 42")
    assert not signing.verify(key.public_key(), signature, b"checkpoint 43")
    other = signing.load_private_key(RAW, source="T")
    assert not signing.verify(other, signature, b"checkpoint 42")


def test_public_key_round_trips_through_its_jwk():
    jwk = signing.public_jwk(rfc_key())
    assert signing.public_key_bytes(signing.public_key_from_jwk(jwk)) == signing.public_key_bytes(rfc_key())


def test_jwk_whose_kid_is_not_its_thumbprint_is_refused():
    jwk = {**signing.public_jwk(rfc_key()), "kid": "someone-else"}
    with pytest.raises(KeyConfigError, match="thumbprint"):
        signing.public_key_from_jwk(jwk)


def test_jws_round_trip_carries_alg_kid_and_extra_header():
    key = rfc_key()
    token = signing.jws_sign({"b": 2, "a": 1}, key, header={"typ": "receipt+jws", "alg": "none"})
    verified = signing.jws_verify(token, key.public_key())
    assert verified.header == {"alg": "EdDSA", "kid": RFC_THUMBPRINT, "typ": "receipt+jws"}
    assert verified.payload == b'{"a":1,"b":2}' and verified.json() == {"a": 1, "b": 2}


def test_jws_verifies_against_trusted_keys_by_kid():
    key = rfc_key()
    token = signing.jws_sign(b"hello", key)
    assert signing.jws_verify(token, {RFC_THUMBPRINT: key.public_key()}).payload == b"hello"
    with pytest.raises(signing.SignatureInvalid, match="unknown key"):
        signing.jws_verify(token, {"other": key.public_key()})


def _swap_payload(token: str, payload: bytes) -> str:
    header, _, signature = token.split(".")
    return f"{header}.{signing.b64url_encode(payload)}.{signature}"


def test_jws_with_a_changed_payload_is_refused():
    key = rfc_key()
    token = _swap_payload(signing.jws_sign({"sequence": 42}, key), b'{"sequence":41}')
    with pytest.raises(signing.SignatureInvalid, match="does not verify"):
        signing.jws_verify(token, key.public_key())


def test_jws_signed_by_another_key_is_refused():
    token = signing.jws_sign(b"hello", signing.load_private_key(RAW, source="T"))
    with pytest.raises(signing.SignatureInvalid, match="another key"):
        signing.jws_verify(token, rfc_key().public_key())


def test_jws_with_alg_none_is_refused():
    header = signing.b64url_encode(json.dumps({"alg": "none"}).encode())
    token = f"{header}.{signing.b64url_encode(b'hello')}."
    with pytest.raises(signing.SignatureInvalid, match="algorithm must be EdDSA"):
        signing.jws_verify(token, rfc_key().public_key())


@pytest.mark.parametrize("token", ["", "a.b", "a.b.c.d", "!!!.e30.AA", "e30.e30.!!!"])
def test_malformed_jws_is_refused_cleanly(token):
    with pytest.raises(signing.SignatureInvalid):
        signing.jws_verify(token, rfc_key().public_key())
