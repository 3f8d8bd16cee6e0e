"""Versioned symmetric keys read from configuration.

A key ring is written ``id:base64key`` with several entries separated by
commas; the first entry is the current key (used for new values) and the
others stay available so that data written under them can still be read
while it is rotated. The same format serves master keys and blind-index keys.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass

from consentmgr.crypto.errors import KeyConfigError

KEY_BYTES = 32
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


@dataclass(frozen=True)
class MasterKey:
    """One version of a 256-bit key. ``repr`` never shows the key bytes."""

    id: str
    key: bytes

    def __repr__(self) -> str:
        return f"MasterKey(id={self.id!r})"


@dataclass(frozen=True)
class KeyRing:
    """An ordered set of key versions; the first is current."""

    keys: tuple[MasterKey, ...]

    @property
    def current(self) -> MasterKey:
        """The key new values are written under."""
        return self.keys[0]

    def get(self, key_id: str) -> MasterKey | None:
        """The key with this id, or ``None`` if it is not configured."""
        for key in self.keys:
            if key.id == key_id:
                return key
        return None

    @property
    def ids(self) -> list[str]:
        """Key ids in order, current first."""
        return [key.id for key in self.keys]

    def serialise(self) -> str:
        """The ``id:base64key,...`` form this ring was parsed from."""
        return ",".join(f"{k.id}:{base64.b64encode(k.key).decode()}" for k in self.keys)


def parse_keyring(text: str, *, source: str) -> KeyRing:
    """Parse ``id:base64key[,id:base64key...]``.

    ``source`` names the setting in error messages (for example
    ``CONSENTMGR_MASTER_KEYS``); the key material never appears in them.
    """
    entries = [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]
    if not entries:
        raise KeyConfigError(f"{source} is empty: expected 'id:base64key[,id:base64key...]'")
    keys: list[MasterKey] = []
    for position, entry in enumerate(entries, start=1):
        key_id, sep, encoded = entry.partition(":")
        if not sep or not _KEY_ID.match(key_id):
            raise KeyConfigError(
                f"{source} entry {position}: expected 'id:base64key' with an id of "
                "letters, digits, '.', '_' or '-' (at most 32)"
            )
        try:
            key = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise KeyConfigError(f"{source} key '{key_id}': not valid base64") from None
        if len(key) != KEY_BYTES:
            raise KeyConfigError(
                f"{source} key '{key_id}': must be {KEY_BYTES} bytes, got {len(key)}"
            )
        if any(k.id == key_id for k in keys):
            raise KeyConfigError(f"{source}: key id '{key_id}' appears twice")
        keys.append(MasterKey(key_id, key))
    return KeyRing(tuple(keys))


def generate_keyring(key_id: str) -> KeyRing:
    """A ring holding one fresh random key (for development and rotation)."""
    return KeyRing((MasterKey(key_id, os.urandom(KEY_BYTES)),))
