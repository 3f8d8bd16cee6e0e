"""Signing keys in configuration: rings in the plural variables, the singular ones a ring of one."""

from __future__ import annotations

import base64

import pytest

from consentmgr.config import ConfigError, load_settings
from consentmgr.crypto.signing import key_id, load_private_key
from tests.test_config import production

TEXT_A = base64.b64encode(b"A" * 32).decode()
TEXT_B = base64.b64encode(b"B" * 32).decode()
KID_A = key_id(load_private_key(TEXT_A, source="a"))
KID_B = key_id(load_private_key(TEXT_B, source="b"))


@pytest.mark.parametrize("kind", ["RECEIPT", "AUDIT"])
def test_the_plural_variable_is_a_ring_whose_first_key_signs(tmp_path, kind):
    settings = load_settings(production(**{f"CONSENTMGR_{kind}_SIGNING_KEY": None,
                                           f"CONSENTMGR_{kind}_SIGNING_KEYS": f"{TEXT_B},{TEXT_A}"}),
                             tmp_path)
    ring = getattr(settings, f"{kind.lower()}_signing_keys")
    assert ring.ids == [KID_B, KID_A]
    assert key_id(getattr(settings, f"{kind.lower()}_signing_key")) == KID_B


def test_the_singular_variable_still_works_as_a_ring_of_one(tmp_path):
    settings = load_settings(production(CONSENTMGR_RECEIPT_SIGNING_KEY=TEXT_A), tmp_path)
    assert settings.receipt_signing_keys.ids == [KID_A]
    assert key_id(settings.receipt_signing_key) == KID_A


def test_the_ring_is_read_from_a_mounted_file(tmp_path):
    path = tmp_path / "receipt-keys"
    path.write_text(f"{TEXT_B}\n{TEXT_A}\n")
    settings = load_settings(production(CONSENTMGR_RECEIPT_SIGNING_KEY=None,
                                        CONSENTMGR_RECEIPT_SIGNING_KEYS_FILE=str(path)), tmp_path)
    assert settings.receipt_signing_keys.ids == [KID_B, KID_A]


@pytest.mark.parametrize("plural", ["CONSENTMGR_AUDIT_SIGNING_KEYS", "CONSENTMGR_AUDIT_SIGNING_KEYS_FILE"])
def test_singular_and_plural_both_set_is_a_clear_error(tmp_path, plural):
    path = tmp_path / "keys"
    path.write_text(TEXT_B)
    value = str(path) if plural.endswith("_FILE") else TEXT_B
    with pytest.raises(ConfigError) as caught:
        load_settings(production(**{plural: value}), tmp_path)
    message = str(caught.value)
    assert plural in message and "CONSENTMGR_AUDIT_SIGNING_KEY " in message
    assert "both set" in message and TEXT_B not in message


def test_a_bad_key_in_the_ring_names_the_variable_and_the_entry(tmp_path):
    short = base64.b64encode(b"x" * 7).decode()
    with pytest.raises(ConfigError, match="CONSENTMGR_RECEIPT_SIGNING_KEYS entry 2: an Ed25519 "
                                          "private key is 32 bytes, got 7") as caught:
        load_settings(production(CONSENTMGR_RECEIPT_SIGNING_KEY=None,
                                 CONSENTMGR_RECEIPT_SIGNING_KEYS=f"{TEXT_A},{short}"), tmp_path)
    assert TEXT_A not in str(caught.value)


def test_a_key_twice_in_the_ring_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="CONSENTMGR_AUDIT_SIGNING_KEYS: entries 1 and 2 are the "
                                          f"same key \\(kid {KID_A}\\)"):
        load_settings(production(CONSENTMGR_AUDIT_SIGNING_KEY=None,
                                 CONSENTMGR_AUDIT_SIGNING_KEYS=f"{TEXT_A} {TEXT_A}"), tmp_path)


def test_production_without_either_names_the_plural_variable_and_the_generator(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_settings(production(CONSENTMGR_RECEIPT_SIGNING_KEY=None), tmp_path)
    message = str(caught.value)
    assert "CONSENTMGR_RECEIPT_SIGNING_KEYS" in message
    assert "flask keys generate-signing-key" in message


def test_settings_repr_shows_no_ring(tmp_path):
    settings = load_settings(production(CONSENTMGR_RECEIPT_SIGNING_KEY=None,
                                        CONSENTMGR_RECEIPT_SIGNING_KEYS=f"{TEXT_B},{TEXT_A}"),
                             tmp_path)
    assert TEXT_A not in repr(settings) and "SigningKeyRing" not in repr(settings)


def test_development_keeps_a_configured_ring_and_generates_the_rest(tmp_path):
    settings = load_settings({"CONSENTMGR_INSTANCE_PATH": str(tmp_path),
                              "CONSENTMGR_RECEIPT_SIGNING_KEYS": f"{TEXT_B},{TEXT_A}"}, tmp_path)
    assert settings.receipt_signing_keys.ids == [KID_B, KID_A]
    assert len(settings.audit_signing_keys.ids) == 1
