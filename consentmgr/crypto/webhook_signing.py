"""Standard Webhooks signatures: HMAC-SHA256 over ``id.timestamp.body``.

The Standard Webhooks specification (standardwebhooks.com) signs each
message with a shared secret written ``whsec_<base64 key>``; the
``webhook-signature`` header holds one or more ``v1,<base64 MAC>`` values,
space-separated, so a receiver keeps working while a secret is rotated.
Pure functions over ``cryptography``'s HMAC: nothing here knows Flask.
"""

from __future__ import annotations

import base64
import binascii
import secrets

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, hmac

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # the specification asks for 24 to 64 random bytes
VERSION = "v1"


class MalformedSecret(ValueError):
    """A webhook secret that is not ``whsec_`` and base64."""


def generate_secret() -> str:
    """A new secret, ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The MAC key a ``whsec_`` secret stands for."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedSecret("a webhook secret is 'whsec_' and base64") from None
    if len(key) < 24:
        raise MalformedSecret("a webhook secret holds at least 24 bytes")
    return key


def _mac(key: bytes, message_id: str, timestamp: int, body: bytes) -> hmac.HMAC:
    mac = hmac.HMAC(key, hashes.SHA256())
    mac.update(f"{message_id}.{timestamp}.".encode() + body)
    return mac


def sign(secrets_: list[str] | tuple[str, ...], message_id: str, timestamp: int,
         body: bytes) -> str:
    """The ``webhook-signature`` header value: one ``v1,<base64>`` per secret, space-separated."""
    return " ".join(
        f"{VERSION}," + base64.b64encode(
            _mac(secret_key(secret), message_id, timestamp, body).finalize()).decode()
        for secret in secrets_)


def verify(secret: str, message_id: str, timestamp: int, body: bytes, header: str) -> bool:
    """True if any ``v1`` signature in ``header`` is ``secret``'s over the message."""
    key = secret_key(secret)
    for part in header.split():
        version, _, encoded = part.partition(",")
        if version != VERSION:
            continue
        try:
            signature = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        try:
            _mac(key, message_id, timestamp, body).verify(signature)
        except InvalidSignature:
            continue
        return True
    return False
