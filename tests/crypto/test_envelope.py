"""Field ciphertexts: round trips, tamper detection, binding to their location."""

from __future__ import annotations

import datetime as dt
import os
import uuid

import pytest
from hypothesis import given, settings, strategies as st

from consentmgr.crypto import DecryptionError, FieldCipher, read_header
from consentmgr.crypto.codecs import DATE, JSON, TEXT
from consentmgr.crypto.envelope import HEADER_BYTES, NONCE_BYTES

KEY = os.urandom(32)
ROW = uuid.UUID("00000000-0000-4000-8000-000000000001")
WHERE = {"table": "customers", "column": "email", "row_id": ROW}


def encrypt(value: bytes, **where) -> bytes:
    return FieldCipher(KEY, 1).encrypt(value, **{**WHERE, **where})


def decrypt(blob: bytes, **where) -> bytes:
    return FieldCipher(KEY, 1).decrypt(blob, **{**WHERE, **where})


@pytest.mark.parametrize(
    "codec, value",
    [
        (TEXT, "Zoë O'Brien"),
        (TEXT, ""),
        (DATE, dt.date(1985, 4, 12)),
        (JSON, {"channels": ["email"], "language": "de", "topics": []}),
        (JSON, []),
    ],
)
def test_every_field_type_round_trips(codec, value):
    assert codec.decode(decrypt(encrypt(codec.encode(value)))) == value


@settings(max_examples=200)
@given(st.text())
def test_arbitrary_unicode_round_trips(text):
    assert TEXT.decode(decrypt(encrypt(TEXT.encode(text)))) == text


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@settings(max_examples=200)
@given(json_values)
def test_arbitrary_json_round_trips(value):
    assert JSON.decode(decrypt(encrypt(JSON.encode(value)))) == value


def test_each_value_gets_a_fresh_nonce():
    first, second = encrypt(b"same"), encrypt(b"same")
    assert first != second
    assert first[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES] != second[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES]


def test_header_names_format_algorithm_and_key_version():
    assert read_header(FieldCipher(KEY, 7).encrypt(b"x", **WHERE)) == (1, 1, 7)


def _flip(blob: bytes, index: int) -> bytes:
    data = bytearray(blob)
    data[index] ^= 0x01
    return bytes(data)


@pytest.mark.parametrize(
    "part, index",
    [
        ("header format", 0),
        ("header key version", HEADER_BYTES - 1),
        ("nonce", HEADER_BYTES + 3),
        ("ciphertext", HEADER_BYTES + NONCE_BYTES + 1),
        ("tag", -1),
    ],
)
def test_flipped_bit_raises_decryption_error_naming_where(part, index):
    blob = encrypt(b"ada@example.org")
    with pytest.raises(DecryptionError) as caught:
        decrypt(_flip(blob, index))
    message = str(caught.value)
    assert "customers.email" in message and str(ROW) in message
    assert "ada@example.org" not in message


def test_ciphertext_moved_to_another_row_fails_to_decrypt():
    other_row = uuid.uuid4()
    with pytest.raises(DecryptionError) as caught:
        decrypt(encrypt(b"secret"), row_id=other_row)
    assert caught.value.row_id == str(other_row) and caught.value.column == "email"


def test_ciphertext_moved_to_another_column_fails_to_decrypt():
    with pytest.raises(DecryptionError) as caught:
        decrypt(encrypt(b"secret"), column="name")
    assert "customers.name" in str(caught.value)


def test_ciphertext_moved_to_another_table_fails_to_decrypt():
    with pytest.raises(DecryptionError):
        decrypt(encrypt(b"secret"), table="history_entries")


def test_wrong_key_raises_decryption_error():
    blob = encrypt(b"secret")
    with pytest.raises(DecryptionError) as caught:
        FieldCipher(os.urandom(32), 1).decrypt(blob, **WHERE)
    assert "authentication failed" in str(caught.value)


def test_truncated_value_raises_decryption_error_not_garbage():
    with pytest.raises(DecryptionError, match="too short"):
        decrypt(b"\x01\x01")


def test_nonces_are_twelve_bytes_and_never_handed_out_twice():
    from consentmgr.crypto.envelope import new_nonce

    # Several pool refills' worth.
    nonces = [new_nonce() for _ in range(5_000)]
    assert {len(n) for n in nonces} == {NONCE_BYTES}
    assert len(set(nonces)) == len(nonces)


def test_nonces_drawn_by_concurrent_threads_are_all_distinct():
    import threading

    from consentmgr.crypto.envelope import new_nonce

    drawn: list[list[bytes]] = [[] for _ in range(8)]

    def draw(into: list[bytes]) -> None:
        for _ in range(2_000):
            into.append(new_nonce())

    threads = [threading.Thread(target=draw, args=(into,)) for into in drawn]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [n for into in drawn for n in into]
    assert len(every) == 16_000 and len(set(every)) == len(every)


def test_a_forked_child_does_not_reuse_the_parents_pending_nonces():
    from consentmgr.crypto.envelope import new_nonce

    new_nonce()  # the parent's pool now holds unused nonces
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report the nonces it draws, then leave at once
        os.close(read_end)
        os.write(write_end, b"".join(new_nonce() for _ in range(300)))
        os._exit(0)
    os.close(write_end)
    data = b""
    while chunk := os.read(read_end, 65536):
        data += chunk
    os.close(read_end)
    os.waitpid(pid, 0)
    child = {data[i : i + NONCE_BYTES] for i in range(0, len(data), NONCE_BYTES)}
    parent = {new_nonce() for _ in range(300)}
    assert len(child) == 300 and child.isdisjoint(parent)


def test_value_written_under_another_key_version_names_both_versions():
    blob = FieldCipher(KEY, 2).encrypt(b"secret", **WHERE)
    with pytest.raises(DecryptionError, match="written under data key version 2, not 1"):
        decrypt(blob)


def test_value_too_short_for_a_nonce_raises_decryption_error():
    blob = encrypt(b"secret")
    with pytest.raises(DecryptionError, match="too short"):
        decrypt(blob[: HEADER_BYTES + 4])


def test_precomputed_location_binds_like_the_named_one():
    from consentmgr.crypto.envelope import location

    cipher = FieldCipher(KEY, 1)
    where = location("customers", "email", ROW)
    blob = cipher.encrypt_at(b"ada@example.org", where)
    assert cipher.decrypt(blob, **WHERE) == b"ada@example.org"
    assert cipher.decrypt_at(blob, where, "customers", "email", ROW) == b"ada@example.org"
    with pytest.raises(DecryptionError):
        cipher.decrypt_at(blob, location("customers", "name", ROW), "customers", "name", ROW)
