"""Blind indexes: keyed hashes that allow exact lookup without decryption.

The index key is not used directly: HKDF derives one sub-key per indexed
field, so adding an index for another field never reuses a MAC key.
"""

from __future__ import annotations

import unicodedata

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from consentmgr.crypto.keyring import KeyRing


def normalise_email(address: str) -> str:
    """The canonical form of an address for matching: NFKC, trimmed, lower-cased."""
    return unicodedata.normalize("NFKC", address).strip().lower()


def _derive(key: bytes, field: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None,
        info=f"consentmgr/blind-index/{field}".encode(),
    ).derive(key)


class BlindIndexer:
    """Computes ``keyid:hex`` blind-index values for one field."""

    def __init__(self, keyring: KeyRing, field: str) -> None:
        self._keys = [(k.id, _derive(k.key, field)) for k in keyring.keys]

    @staticmethod
    def _mac(key: bytes, value: str) -> str:
        mac = hmac.HMAC(key, hashes.SHA256())
        mac.update(value.encode())
        return mac.finalize().hex()

    def compute(self, normalised: str) -> str:
        """The index value under the current key (what new rows store)."""
        key_id, key = self._keys[0]
        return f"{key_id}:{self._mac(key, normalised)}"

    def candidates(self, normalised: str) -> list[str]:
        """Index values under every configured key, for lookups during rotation."""
        return [f"{key_id}:{self._mac(key, normalised)}" for key_id, key in self._keys]
