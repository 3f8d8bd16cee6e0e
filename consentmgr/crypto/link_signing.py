"""Signed links: a keyed MAC over a link's own fields, so the link needs no row to look up.

A link that acts without a sign-in (the one-click unsubscribe of RFC 8058)
must prove that we made it, for exactly the subject it names. The MAC is an
HMAC-SHA256 under a key that HKDF derives from a configured key ring with a
label per kind of link, so one kind of link can never be passed off as
another, and no MAC key is shared with a blind index. Every key of the ring
verifies (the one named in the link), the first signs: a link mailed before
a key rotation keeps working as long as its key stays in the ring.

The MAC is truncated to 128 bits (RFC 2104 §5 allows half the hash output):
forging one is a 2^128 guess per try, and the link stays short enough for a
mail header.
"""

from __future__ import annotations

import base64
import binascii
import hmac as std_hmac

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from consentmgr.crypto.keyring import KeyRing

MAC_BYTES = 16


class LinkSignatureInvalid(ValueError):
    """The link's MAC does not verify, or names a key that is not in the ring."""


def _derive(key: bytes, label: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=f"consentmgr/signed-link/{label}".encode()).derive(key)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise LinkSignatureInvalid("the signature is not base64") from None


class LinkSigner:
    """MACs for one kind of link (``label``), under every key of ``keyring``."""

    def __init__(self, keyring: KeyRing, label: str) -> None:
        self._keys = {k.id: _derive(k.key, label) for k in keyring.keys}
        self._current = keyring.current.id

    @staticmethod
    def _mac(key: bytes, message: bytes) -> bytes:
        mac = hmac.HMAC(key, hashes.SHA256())
        mac.update(message)
        return mac.finalize()[:MAC_BYTES]

    def sign(self, message: str) -> tuple[str, str]:
        """``(key_id, mac)`` for ``message`` under the current key; the MAC is base64url."""
        return self._current, _b64(self._mac(self._keys[self._current], message.encode()))

    def verify(self, message: str, key_id: str, mac: str) -> None:
        """Raise :class:`LinkSignatureInvalid` unless ``mac`` is ours for ``message``."""
        key = self._keys.get(key_id)
        if key is None:
            raise LinkSignatureInvalid("the link is signed by a key that is not configured")
        expected = self._mac(key, message.encode())
        if not std_hmac.compare_digest(expected, _unb64(mac)):
            raise LinkSignatureInvalid("the signature does not match")


def encode_id(raw: bytes) -> str:
    """Bytes (a UUID's 16) as unpadded base64url, for a short link."""
    return _b64(raw)


def decode_id(text: str) -> bytes:
    """The bytes of :func:`encode_id`; :class:`LinkSignatureInvalid` if it is not base64url."""
    return _unb64(text)
