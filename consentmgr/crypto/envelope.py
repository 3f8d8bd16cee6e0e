"""Self-describing AES-256-GCM ciphertexts for single field values.

Layout of a stored value::

    header (6 bytes) = format version (1) | algorithm (1) | data-key version (4, big-endian)
    nonce  (12 bytes, fresh from os.urandom for every value)
    ciphertext || tag (16 bytes)

The header travels in the clear so a reader knows which key to fetch, and it
is authenticated as part of the associated data, together with the table,
column and row id the value belongs to. A value copied into another row or
column, or a header edited to point at another key, fails authentication.
"""

from __future__ import annotations

import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from consentmgr.crypto.errors import DecryptionError

FORMAT_V1 = 1
ALG_AES_256_GCM = 1
_HEADER = struct.Struct(">BBI")
HEADER_BYTES = _HEADER.size
NONCE_BYTES = 12
TAG_BYTES = 16
MIN_BYTES = HEADER_BYTES + NONCE_BYTES + TAG_BYTES


def read_header(blob: bytes) -> tuple[int, int, int]:
    """Return ``(format_version, algorithm, key_version)`` of a stored value.

    Raises ``ValueError`` for a value too short to hold a header; callers
    turn that into a :class:`DecryptionError` naming the location.
    """
    if len(blob) < MIN_BYTES:
        raise ValueError("value is too short to be a ciphertext")
    return _HEADER.unpack_from(blob)


def location(table: str, column: str, row_id: object) -> bytes:
    """The associated-data suffix binding a value to its table, column and row."""
    # NUL separators: table and column names cannot contain NUL, so two
    # different locations can never encode to the same associated data.
    return f"\x00{table}\x00{column}\x00{row_id}".encode()


class FieldCipher:
    """Encrypts and decrypts field values under one data key version."""

    __slots__ = ("_aead", "_header", "key_version")

    def __init__(self, key: bytes, key_version: int) -> None:
        self._aead = AESGCM(key)
        self.key_version = key_version
        self._header = _HEADER.pack(FORMAT_V1, ALG_AES_256_GCM, key_version)

    def encrypt(
        self, plaintext: bytes, *, table: str, column: str, row_id: object,
        where: bytes | None = None,
    ) -> bytes:
        """Encrypt ``plaintext`` bound to its table, column and row.

        ``where`` is :func:`location` precomputed by callers encrypting many
        fields of one row.
        """
        nonce = os.urandom(NONCE_BYTES)
        aad = self._header + (where or location(table, column, row_id))
        return self._header + nonce + self._aead.encrypt(nonce, plaintext, aad)

    def encrypt_at(self, plaintext: bytes, where: bytes) -> bytes:
        """:meth:`encrypt` with a precomputed :func:`location` (the hot path)."""
        nonce = os.urandom(NONCE_BYTES)
        return self._header + nonce + self._aead.encrypt(nonce, plaintext, self._header + where)

    @property
    def header(self) -> bytes:
        """The header every value written by this cipher starts with."""
        return self._header

    def decrypt(
        self, blob: bytes, *, table: str, column: str, row_id: object,
        where: bytes | None = None,
    ) -> bytes:
        """Authenticate and decrypt a value written by :meth:`encrypt`.

        Raises :class:`DecryptionError` naming the location on any failure.
        """
        if not isinstance(blob, bytes):
            blob = bytes(blob)
        header = blob[:HEADER_BYTES]
        if header != self._header or len(blob) < MIN_BYTES:
            self._explain_header(blob, table, column, row_id)
        aad = header + (where or location(table, column, row_id))
        try:
            return self._aead.decrypt(
                blob[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES], blob[HEADER_BYTES + NONCE_BYTES :], aad
            )
        except InvalidTag:
            raise DecryptionError(
                table, column, row_id,
                "authentication failed (tampered, moved from another row or column, or wrong key)",
            ) from None

    def _explain_header(self, blob: bytes, table: str, column: str, row_id: object) -> None:
        """Raise the precise error for a value this cipher cannot have written."""
        try:
            version, algorithm, key_version = read_header(blob)
        except ValueError as exc:
            raise DecryptionError(table, column, row_id, str(exc)) from None
        if version != FORMAT_V1 or algorithm != ALG_AES_256_GCM:
            raise DecryptionError(
                table, column, row_id, f"unknown format {version} or algorithm {algorithm}"
            )
        raise DecryptionError(
            table, column, row_id,
            f"written under data key version {key_version}, not {self.key_version}",
        )
