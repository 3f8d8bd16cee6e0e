"""Sealing a queued message so that the outbox table holds no address, subject or link.

Envelope encryption with the same helpers as customer data
(:mod:`consentmgr.crypto`): each message gets a fresh data key, which
encrypts it (AES-256-GCM, bound to its table, column and row) and is itself
wrapped under the current master key (bound to the row, and to the outbox,
so it cannot pass for a customer's data key). A copy of the database, or
of a backup, opens no queued message without the master key, which is never
in the database.

The plaintext is padded to whole blocks and the deliver flag is one digit
either way, so the sealed size tells neither the length of the address nor
whether the message is a real delivery or a rehearsal (the sign-in request
for an unknown address must write what a customer's writes).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from consentmgr.crypto import (
    FieldCipher,
    KeyRing,
    generate_data_key,
    unwrap_data_key,
    wrap_data_key,
)

TABLE = "mail_outbox"
COLUMN = "sealed"
BLOCK_BYTES = 512
_KEY_VERSION = 1  # one data key per message, never rotated: the row lives minutes


@dataclass(frozen=True)
class Letter:
    """What a queued message says: recipient, subject, body, and whether it goes out at all.

    ``headers`` are extra header fields (``List-Unsubscribe`` on marketing
    mail: a link signed for the recipient, so it is sealed with the rest).
    ``language`` is the language it is written in (``Content-Language``).
    """

    to: str
    subject: str
    body: str
    deliver: bool
    headers: Mapping[str, str] = field(default_factory=dict)
    language: str | None = None


@dataclass(frozen=True)
class Sealed:
    """A letter as stored: the master key's id, the wrapped data key, the ciphertext."""

    master_key_id: str
    wrapped_key: bytes
    sealed: bytes


def _owner(message_id: uuid.UUID) -> str:
    # Not a bare UUID: a wrapped outbox key must never unwrap as a customer's data key.
    return f"{TABLE}:{message_id}"


def seal(keys: KeyRing, message_id: uuid.UUID, letter: Letter) -> Sealed:
    """``letter`` sealed for the outbox row ``message_id`` under the current master key."""
    plaintext = json.dumps({"to": letter.to, "subject": letter.subject, "body": letter.body,
                            "deliver": 1 if letter.deliver else 0,
                            "headers": dict(letter.headers), "language": letter.language or ""},
                           ensure_ascii=False, separators=(",", ":")).encode()
    # Trailing spaces are JSON whitespace: the padding needs no length field.
    plaintext += b" " * (-len(plaintext) % BLOCK_BYTES)
    data_key = generate_data_key()
    master = keys.current
    return Sealed(
        master_key_id=master.id,
        wrapped_key=wrap_data_key(master, data_key, owner_id=_owner(message_id),
                                  version=_KEY_VERSION),
        sealed=FieldCipher(data_key, _KEY_VERSION).encrypt(plaintext, table=TABLE, column=COLUMN,
                                                           row_id=message_id))


def unseal(keys: KeyRing, message_id: uuid.UUID, sealed: Sealed) -> Letter:
    """The letter in ``sealed``; :class:`consentmgr.crypto.CryptoError` if it does not open."""
    data_key = unwrap_data_key(keys, bytes(sealed.wrapped_key), master_key_id=sealed.master_key_id,
                               owner_id=_owner(message_id), version=_KEY_VERSION)
    plaintext = FieldCipher(data_key, _KEY_VERSION).decrypt(bytes(sealed.sealed), table=TABLE,
                                                            column=COLUMN, row_id=message_id)
    fields = json.loads(plaintext)
    # Messages sealed before headers (or languages) existed have none.
    return Letter(to=fields["to"], subject=fields["subject"], body=fields["body"],
                  deliver=bool(fields["deliver"]), headers=fields.get("headers") or {},
                  language=fields.get("language") or None)
