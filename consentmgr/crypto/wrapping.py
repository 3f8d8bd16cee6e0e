"""Wrapping per-customer data keys under a master key (envelope encryption).

Each wrapped key is bound by associated data to its owner, its version and
the master key id, so a wrapped key swapped between customers in the key
store does not unwrap.
"""

from __future__ import annotations

import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from consentmgr.crypto.envelope import NONCE_BYTES, new_nonce
from consentmgr.crypto.errors import KeyConfigError
from consentmgr.crypto.keyring import KEY_BYTES, KeyRing, MasterKey


def _aad(master_key_id: str, owner_id: object, version: int) -> bytes:
    return f"consentmgr/data-key/v1\x00{master_key_id}\x00{owner_id}\x00{version}".encode()


@lru_cache(maxsize=16)
def _master_aead(key: bytes) -> AESGCM:
    # One cipher object per master key: every customer's key goes through it.
    return AESGCM(key)


def generate_data_key() -> bytes:
    """A fresh random 256-bit data key."""
    # Straight from the OS, never from a pool: keys are secret, nonces are not.
    return os.urandom(KEY_BYTES)


def wrap_data_key(master: MasterKey, data_key: bytes, *, owner_id: object, version: int) -> bytes:
    """Encrypt ``data_key`` under ``master``: ``nonce || ciphertext || tag``."""
    nonce = new_nonce()
    return nonce + _master_aead(master.key).encrypt(nonce, data_key, _aad(master.id, owner_id, version))


def unwrap_data_key(
    keyring: KeyRing, wrapped: bytes, *, master_key_id: str, owner_id: object, version: int
) -> bytes:
    """Recover a data key; :class:`KeyConfigError` names the master key at fault."""
    master = keyring.get(master_key_id)
    if master is None:
        raise KeyConfigError(
            f"data key {owner_id} v{version} is wrapped by master key '{master_key_id}', "
            f"which is not configured (configured: {', '.join(keyring.ids)})"
        )
    try:
        return _master_aead(master.key).decrypt(
            wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _aad(master.id, owner_id, version)
        )
    except (InvalidTag, ValueError):  # ValueError: too short to hold a nonce
        raise KeyConfigError(
            f"master key '{master_key_id}' does not unwrap data key {owner_id} v{version}: "
            "wrong key material for this id, or the key store was tampered with"
        ) from None
