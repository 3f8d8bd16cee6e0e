"""Sealing a session's data under a key only the cookie's holder has.

The key is derived with HKDF-SHA256 from the random id in the cookie; the
table keeps only the id's SHA-256 (a different function of it, from which
neither the id nor this key follows). So a copy of the database can neither
read a session's data nor use the session. The row's token hash and kind
are the associated data: a sealed value moved to another row fails to open.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

FORMAT_V1 = b"\x01"
NONCE_BYTES = 12
_INFO = b"consentmgr web session data v1"


class SealBroken(ValueError):
    """The sealed data does not open with this id (tampered, moved, or another id)."""


def _key(session_id: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        session_id.encode("utf-8"))


def seal(session_id: str, plaintext: bytes, *, associated: bytes) -> bytes:
    """``plaintext`` encrypted under the key of ``session_id``: version, nonce, ciphertext."""
    nonce = os.urandom(NONCE_BYTES)
    return FORMAT_V1 + nonce + AESGCM(_key(session_id)).encrypt(nonce, plaintext,
                                                                 FORMAT_V1 + associated)


def unseal(session_id: str, sealed: bytes, *, associated: bytes) -> bytes:
    """The plaintext of ``sealed``; raises :class:`SealBroken` if it does not open."""
    if len(sealed) < 1 + NONCE_BYTES + 16 or sealed[:1] != FORMAT_V1:
        raise SealBroken("unknown session data format")
    nonce, body = sealed[1:1 + NONCE_BYTES], sealed[1 + NONCE_BYTES:]
    try:
        return AESGCM(_key(session_id)).decrypt(nonce, body, FORMAT_V1 + associated)
    except InvalidTag:
        raise SealBroken("session data does not open with this id") from None
