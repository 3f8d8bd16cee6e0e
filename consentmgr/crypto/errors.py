"""Errors raised by the encryption layer.

Messages name *where* a failure happened (table, column, row id, key id) and
never carry plaintext or ciphertext, so they are safe to log and to show.
"""

from __future__ import annotations


class CryptoError(Exception):
    """Base class for encryption failures."""


class KeyConfigError(CryptoError):
    """A key is missing, malformed or does not match the stored data."""


class DecryptionError(CryptoError):
    """A stored value could not be authenticated and decrypted.

    Raised for tampered bytes, a value moved to another row or column, an
    unknown format, or a missing or wrong key. Never returns garbage.
    """

    def __init__(self, table: str, column: str, row_id: object, reason: str) -> None:
        self.table = table
        self.column = column
        self.row_id = str(row_id)
        self.reason = reason
        super().__init__(f"cannot decrypt {table}.{column} of row {self.row_id}: {reason}")
