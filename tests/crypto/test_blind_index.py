"""Blind index: equal after normalisation, keyed, rotatable."""

from __future__ import annotations

import base64

from consentmgr.crypto import BlindIndexer, normalise_email, parse_keyring

RING = parse_keyring("i1:" + base64.b64encode(b"k" * 32).decode(), source="x")


def test_normalisation_is_nfkc_trimmed_and_lower_cased():
    assert normalise_email("  Ａda@Example.ORG \n") == "ada@example.org"


def test_equal_addresses_index_equal_and_carry_the_key_id():
    indexer = BlindIndexer(RING, "email")
    value = indexer.compute(normalise_email("Ada@Example.org"))
    assert value == indexer.compute(normalise_email("ada@example.org "))
    assert value.startswith("i1:") and "ada" not in value


def test_index_depends_on_key_and_field():
    other = parse_keyring("i2:" + base64.b64encode(b"z" * 32).decode(), source="x")
    a = BlindIndexer(RING, "email").compute("ada@example.org")
    assert a.split(":")[1] != BlindIndexer(other, "email").compute("ada@example.org").split(":")[1]
    assert a != BlindIndexer(RING, "phone").compute("ada@example.org")


def test_lookup_candidates_cover_every_configured_key():
    both = parse_keyring(
        "i2:" + base64.b64encode(b"z" * 32).decode() + ",i1:" + base64.b64encode(b"k" * 32).decode(),
        source="x",
    )
    old_value = BlindIndexer(RING, "email").compute("ada@example.org")
    assert old_value in BlindIndexer(both, "email").candidates("ada@example.org")
