"""A queued message is sealed: it opens only for its own row, and its size tells nothing."""

from __future__ import annotations

import uuid

import pytest

from consentmgr.crypto import CryptoError, generate_keyring, unwrap_data_key
from consentmgr.mail.sealing import Letter, seal, unseal

KEYS = generate_keyring("m1")
LETTER = Letter(to="ada@example.org", subject="Your sign-in link",
                body="Open https://example.org/portal/sign-in/abc\n", deliver=True)


def test_a_sealed_letter_opens_with_the_master_key_for_its_own_row():
    row = uuid.uuid4()

    assert unseal(KEYS, row, seal(KEYS, row, LETTER)) == LETTER


def test_the_sealed_bytes_hold_no_address_subject_or_link():
    sealed = seal(KEYS, uuid.uuid4(), LETTER)

    stored = sealed.master_key_id.encode() + sealed.wrapped_key + sealed.sealed
    for needle in ("ada@example.org", "sign-in", "example.org", "abc"):
        assert needle.encode() not in stored


def test_a_sealed_letter_moved_to_another_row_does_not_open():
    sealed = seal(KEYS, uuid.uuid4(), LETTER)

    with pytest.raises(CryptoError):
        unseal(KEYS, uuid.uuid4(), sealed)


def test_without_the_master_key_a_sealed_letter_does_not_open():
    row = uuid.uuid4()
    sealed = seal(KEYS, row, LETTER)

    with pytest.raises(CryptoError):
        unseal(generate_keyring("m1"), row, sealed)  # same id, other key material


def test_an_outbox_key_cannot_pass_for_a_customers_data_key():
    row = uuid.uuid4()
    sealed = seal(KEYS, row, LETTER)

    with pytest.raises(CryptoError):
        unwrap_data_key(KEYS, sealed.wrapped_key, master_key_id="m1", owner_id=row, version=1)


def test_the_size_tells_neither_the_address_length_nor_whether_it_is_delivered():
    short = seal(KEYS, uuid.uuid4(), LETTER)
    rehearsal = seal(KEYS, uuid.uuid4(), Letter(
        to="somebody.with.a.much.longer.address@example.org", subject=LETTER.subject,
        body=LETTER.body, deliver=False))

    assert len(rehearsal.sealed) == len(short.sealed)
    assert len(rehearsal.wrapped_key) == len(short.wrapped_key)
