"""Signing key rings: parsed from configuration text, the first key signs, every key verifies."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization

from consentmgr.crypto import KeyConfigError
from consentmgr.crypto.signing import (
    SignatureInvalid,
    SigningKeyRing,
    UnknownSigningKey,
    b64url_decode,
    b64url_encode,
    jws_sign,
    jws_verify,
    key_id,
    load_private_key,
    parse_signing_keyring,
    public_jwk,
)

TEXT_A = base64.b64encode(b"A" * 32).decode()
TEXT_B = base64.b64encode(b"B" * 32).decode()
TEXT_C = base64.b64encode(b"C" * 32).decode()
KEY_A = load_private_key(TEXT_A, source="a")
KEY_B = load_private_key(TEXT_B, source="b")
KEY_C = load_private_key(TEXT_C, source="c")


@pytest.mark.parametrize("text", [f"{TEXT_B},{TEXT_A}", f"{TEXT_B}, {TEXT_A}",
                                  f" {TEXT_B}\n{TEXT_A}\n", f"{TEXT_B} {TEXT_A},"])
def test_a_ring_is_keys_separated_by_commas_or_white_space_first_signs(text):
    ring = parse_signing_keyring(text, source="RING")
    assert ring.ids == [key_id(KEY_B), key_id(KEY_A)]
    assert key_id(ring.current) == key_id(KEY_B)


def test_pem_blocks_and_base64_keys_mix_in_their_order():
    pem = KEY_C.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()).decode()
    ring = parse_signing_keyring(f"{pem}\n{TEXT_A},{TEXT_B}", source="RING")
    assert ring.ids == [key_id(KEY_C), key_id(KEY_A), key_id(KEY_B)]


def test_a_bad_entry_is_named_by_its_position_without_its_text():
    short = base64.b64encode(b"x" * 5).decode()
    with pytest.raises(KeyConfigError, match="RING entry 2: an Ed25519 private key is 32 bytes") as caught:
        parse_signing_keyring(f"{TEXT_A},{short}", source="RING")
    assert short not in str(caught.value) and TEXT_A not in str(caught.value)


def test_not_base64_is_a_clear_error():
    with pytest.raises(KeyConfigError, match="RING entry 1: not valid base64"):
        parse_signing_keyring("not*base64!", source="RING")


def test_the_same_key_twice_is_refused_naming_both_positions():
    with pytest.raises(KeyConfigError, match=f"entries 1 and 3 are the same key \\(kid {key_id(KEY_A)}\\)"):
        parse_signing_keyring(f"{TEXT_A},{TEXT_B},{TEXT_A}", source="RING")


@pytest.mark.parametrize("text", ["", " , ,\n"])
def test_an_empty_ring_is_refused(text):
    with pytest.raises(KeyConfigError, match="RING is empty"):
        parse_signing_keyring(text, source="RING")


def test_repr_shows_key_ids_only():
    ring = SigningKeyRing.of([KEY_B, KEY_A])
    assert repr(ring) == f"SigningKeyRing(ids={[key_id(KEY_B), key_id(KEY_A)]!r})"
    assert TEXT_A not in repr(ring) and TEXT_B not in repr(ring)


def test_a_single_key_is_a_ring_of_one():
    ring = SigningKeyRing.of(KEY_A)
    assert ring.ids == [key_id(KEY_A)] and SigningKeyRing.of(ring) is ring


def test_the_jwks_holds_every_public_key_the_signing_one_first():
    assert SigningKeyRing.of([KEY_B, KEY_A]).jwks() == {"keys": [public_jwk(KEY_B), public_jwk(KEY_A)]}


def test_a_token_signed_by_an_older_key_of_the_ring_verifies_by_its_kid():
    token = jws_sign({"n": 1}, KEY_A)
    ring = SigningKeyRing.of([KEY_B, KEY_A])
    assert jws_verify(token, ring.verifying_keys()).json() == {"n": 1}


def test_a_token_whose_key_left_the_ring_names_its_kid():
    token = jws_sign({"n": 1}, KEY_A)
    with pytest.raises(UnknownSigningKey, match="signed by an unknown key") as caught:
        jws_verify(token, SigningKeyRing.of([KEY_B, KEY_C]).verifying_keys())
    assert caught.value.kid == key_id(KEY_A)
    assert isinstance(caught.value, SignatureInvalid)


def test_a_kid_pointing_at_another_key_of_the_ring_does_not_verify():
    # Re-label A's token with B's kid: the signature is checked with B, and fails.
    header, payload, signature = jws_sign({"n": 1}, KEY_A).split(".")
    relabelled = {**json.loads(b64url_decode(header)), "kid": key_id(KEY_B)}
    forged = ".".join([b64url_encode(json.dumps(relabelled).encode()), payload, signature])
    with pytest.raises(SignatureInvalid, match="does not verify"):
        jws_verify(forged, SigningKeyRing.of([KEY_B, KEY_A]).verifying_keys())
