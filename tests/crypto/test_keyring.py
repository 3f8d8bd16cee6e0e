"""Key ring parsing: clear errors that never echo key material."""

from __future__ import annotations

import base64

import pytest

from consentmgr.crypto import KeyConfigError, parse_keyring
from consentmgr.crypto.wrapping import generate_data_key, unwrap_data_key, wrap_data_key

K1 = base64.b64encode(b"a" * 32).decode()
K2 = base64.b64encode(b"b" * 32).decode()


def test_first_key_is_current_and_others_stay_readable():
    ring = parse_keyring(f"new:{K2}, old:{K1}", source="CONSENTMGR_MASTER_KEYS")
    assert ring.current.id == "new"
    assert ring.get("old").key == b"a" * 32
    assert ring.ids == ["new", "old"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", "is empty"),
        ("nocolon", "expected 'id:base64key'"),
        ("k1:not-base64!!", "not valid base64"),
        ("k1:" + base64.b64encode(b"short").decode(), "must be 32 bytes"),
        (f"k1:{K1},k1:{K2}", "appears twice"),
    ],
)
def test_bad_keyring_is_a_clear_error_naming_the_setting(text, expected):
    with pytest.raises(KeyConfigError) as caught:
        parse_keyring(text, source="CONSENTMGR_MASTER_KEYS")
    assert "CONSENTMGR_MASTER_KEYS" in str(caught.value) and expected in str(caught.value)
    assert K2 not in str(caught.value)


def test_repr_never_shows_key_material():
    ring = parse_keyring(f"k1:{K1}", source="x")
    assert K1 not in repr(ring) and "aaaa" not in repr(ring)


def test_data_key_round_trips_through_wrapping():
    ring = parse_keyring(f"k1:{K1}", source="x")
    key = generate_data_key()
    wrapped = wrap_data_key(ring.current, key, owner_id="c1", version=1)
    assert unwrap_data_key(ring, wrapped, master_key_id="k1", owner_id="c1", version=1) == key


def test_wrapped_key_swapped_to_another_owner_does_not_unwrap():
    ring = parse_keyring(f"k1:{K1}", source="x")
    wrapped = wrap_data_key(ring.current, generate_data_key(), owner_id="c1", version=1)
    with pytest.raises(KeyConfigError, match="does not unwrap"):
        unwrap_data_key(ring, wrapped, master_key_id="k1", owner_id="c2", version=1)


def test_unknown_master_key_id_is_named():
    ring = parse_keyring(f"k1:{K1}", source="x")
    with pytest.raises(KeyConfigError, match="master key 'k0', which is not configured"):
        unwrap_data_key(ring, b"\x00" * 60, master_key_id="k0", owner_id="c1", version=1)
