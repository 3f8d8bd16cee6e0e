"""Self-describing AES-256-GCM ciphertexts for single field values.

Layout of a stored value::

    header (6 bytes) = format version (1) | algorithm (1) | data-key version (4, big-endian)
    nonce  (12 bytes, random from the OS CSPRNG, never used twice; see new_nonce)
    ciphertext || tag (16 bytes)

The header travels in the clear so a reader knows which key to fetch, and it
is authenticated as part of the associated data, together with the table,
column and row id the value belongs to. A value copied into another row or
column, or a header edited to point at another key, fails authentication.
"""

from __future__ import annotations

import os
import struct
import sys
from typing import NoReturn

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
_NONCE_END = HEADER_BYTES + NONCE_BYTES

# Nonces are drawn from os.urandom 256 at a time and handed out one each:
# a getrandom() system call per value costs more than the AES-GCM call it
# feeds. Every value still gets 12 bytes of its own straight from the OS
# CSPRNG (a 96-bit random nonce, as NIST SP 800-38D section 8.2.2 allows);
# the block is only cut into pieces. Uniqueness rests on two facts:
# ``next()`` on a list iterator is a single C call, so under the GIL two
# threads never receive the same piece, and a forked child starts with an
# empty pool (a copy of the parent's would repeat the parent's nonces, and a
# repeated nonce under one key breaks GCM). A free-threaded build (PEP 703)
# has no GIL to rely on: there every nonce is its own os.urandom call.
_POOL_SIZE = 256 if getattr(sys, "_is_gil_enabled", lambda: True)() else 1
_pool = iter(())


def _refill() -> bytes:
    global _pool
    block = os.urandom(NONCE_BYTES * _POOL_SIZE)
    pieces = iter([block[i : i + NONCE_BYTES] for i in range(0, len(block), NONCE_BYTES)])
    first = next(pieces)
    _pool = pieces
    return first


def _empty_pool() -> None:
    global _pool
    _pool = iter(())


os.register_at_fork(after_in_child=_empty_pool)


def new_nonce() -> bytes:
    """Twelve fresh random bytes from the OS CSPRNG, never handed out twice."""
    return next(_pool, None) or _refill()


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
    """Encrypts and decrypts field values under one data key version.

    ``encrypt_at`` and ``decrypt_at`` take the location precomputed and
    positional arguments: they run once per field of every row listed or
    imported, where keyword handling alone would cost a third of the call.
    """

    __slots__ = ("_aead", "header", "key_version")

    def __init__(self, key: bytes, key_version: int) -> None:
        self._aead = AESGCM(key)
        self.key_version = key_version
        #: The header every value written by this cipher starts with.
        self.header = _HEADER.pack(FORMAT_V1, ALG_AES_256_GCM, key_version)

    def encrypt(
        self, plaintext: bytes, *, table: str, column: str, row_id: object,
        where: bytes | None = None,
    ) -> bytes:
        """Encrypt ``plaintext`` bound to its table, column and row.

        ``where`` is :func:`location` precomputed by callers encrypting many
        fields of one row.
        """
        return self.encrypt_at(plaintext, where or location(table, column, row_id))

    def encrypt_at(self, plaintext: bytes, where: bytes) -> bytes:
        """:meth:`encrypt` with a precomputed :func:`location` (the hot path)."""
        nonce = next(_pool, None) or _refill()
        header = self.header
        return header + nonce + self._aead.encrypt(nonce, plaintext, header + where)

    def decrypt(
        self, blob: bytes, *, table: str, column: str, row_id: object,
        where: bytes | None = None,
    ) -> bytes:
        """Authenticate and decrypt a value written by :meth:`encrypt`.

        Raises :class:`DecryptionError` naming the location on any failure.
        """
        if not isinstance(blob, bytes):
            blob = bytes(blob)
        where = where or location(table, column, row_id)
        return self.decrypt_at(blob, where, table, column, row_id)

    def decrypt_at(
        self, blob: bytes, where: bytes, table: str, column: str, row_id: object
    ) -> bytes:
        """:meth:`decrypt` with a precomputed :func:`location` (the hot path).

        ``table``, ``column`` and ``row_id`` only name the location in a
        :class:`DecryptionError`; ``where`` is what is authenticated.
        """
        header = blob[:HEADER_BYTES]
        if header == self.header:
            try:
                # The header is authenticated too: an edited one fails here.
                return self._aead.decrypt(
                    blob[HEADER_BYTES:_NONCE_END], blob[_NONCE_END:], header + where
                )
            except (InvalidTag, ValueError):  # ValueError: too short to hold a nonce
                pass
        self._fail(blob, table, column, row_id)

    def _fail(self, blob: bytes, table: str, column: str, row_id: object) -> NoReturn:
        """Raise the precise error for a value that did not decrypt."""
        try:
            version, algorithm, key_version = read_header(blob)
        except ValueError as exc:
            raise DecryptionError(table, column, row_id, str(exc)) from None
        if version != FORMAT_V1 or algorithm != ALG_AES_256_GCM:
            raise DecryptionError(
                table, column, row_id, f"unknown format {version} or algorithm {algorithm}"
            )
        if key_version != self.key_version:
            raise DecryptionError(
                table, column, row_id,
                f"written under data key version {key_version}, not {self.key_version}",
            )
        raise DecryptionError(
            table, column, row_id,
            "authentication failed (tampered, moved from another row or column, or wrong key)",
        )
