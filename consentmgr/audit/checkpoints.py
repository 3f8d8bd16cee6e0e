"""Signed checkpoints: "entry N of the audit chain has hash H", signed with Ed25519.

A hash chain alone proves that entries were not changed *within* the chain,
but someone who can write to the database could cut off its newest entries
and recompute the head. A checkpoint signed with a key kept outside the
database, and stored outside it too, pins the chain's length and content up
to that point: ``verify`` then fails if the chain is shorter than, or
differs from, any checkpoint.

The off-box form is one JSON document::

    {
      "type": "consentmgr-audit-checkpoint",
      "version": 1,
      "sequence": 42,
      "head_hash": "<sha-256 hex of entry 42>",
      "created_at": "2026-11-23T10:15:00.123456Z",
      "key_id": "<RFC 7638 thumbprint of the signing key>",
      "public_key": {"kty": "OKP", "crv": "Ed25519", "x": "...", "kid": "..."},
      "jws": "<compact JWS (EdDSA) whose payload is the first five members>"
    }

The readable members must equal the signed payload; ``public_key`` is for
people (which key signed this?). Verification trusts only the configured
keys, never the key a document brings with it. The audit keys are a ring
(``CONSENTMGR_AUDIT_SIGNING_KEYS``): the first signs new checkpoints, and a
checkpoint signed by any key of the ring verifies, so checkpoints kept from
before a rotation stay valid while their key stays in the ring.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Any

from consentmgr.audit.chain import canonical_time
from consentmgr.crypto.signing import (
    PrivateKey,
    PublicKey,
    SignatureInvalid,
    SigningKeyRing,
    b64url_decode,
    jws_header,
    jws_sign,
    jws_verify,
    key_id,
    public_jwk,
)

CHECKPOINT_TYPE = "consentmgr-audit-checkpoint"
CHECKPOINT_VERSION = 1
JWS_TYP = "consentmgr-audit-checkpoint+jws"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class CheckpointFormatError(ValueError):
    """A checkpoint document cannot be read (not JSON, or members missing)."""


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint and its signature; see the module docstring for the format."""

    sequence: int
    head_hash: str
    created_at: dt.datetime
    key_id: str
    jws: str
    public_key: dict[str, str] | None = field(default=None, compare=False)

    @classmethod
    def sign(
        cls, *, sequence: int, head_hash: str, created_at: dt.datetime, key: PrivateKey
    ) -> SignedCheckpoint:
        """Sign ``(sequence, head_hash, created_at)`` with ``key``."""
        claims = _claims(sequence, head_hash, created_at)
        token = jws_sign(claims, key, header={"typ": JWS_TYP})
        return cls(sequence=sequence, head_hash=head_hash, created_at=created_at,
                   key_id=key_id(key), jws=token, public_key=public_jwk(key))

    def claims(self) -> dict[str, Any]:
        """The signed members, as they appear in the JWS payload."""
        return _claims(self.sequence, self.head_hash, self.created_at)

    def to_document(self) -> dict[str, Any]:
        """The self-contained JSON-ready document for off-box storage."""
        document: dict[str, Any] = {**self.claims(), "key_id": self.key_id}
        if self.public_key is not None:
            document["public_key"] = self.public_key
        document["jws"] = self.jws
        return document

    def to_json(self) -> str:
        """:meth:`to_document` as indented JSON text ending in a newline."""
        return json.dumps(self.to_document(), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> SignedCheckpoint:
        """Read a document written by :meth:`to_json`; raises :class:`CheckpointFormatError`.

        Only the format is checked here; call :meth:`verify` before trusting it.
        """
        try:
            document = json.loads(text)
        except ValueError:
            raise CheckpointFormatError("the checkpoint is not JSON") from None
        if not isinstance(document, dict) or document.get("type") != CHECKPOINT_TYPE:
            raise CheckpointFormatError(f"not a checkpoint document (type {CHECKPOINT_TYPE!r})")
        if document.get("version") != CHECKPOINT_VERSION:
            raise CheckpointFormatError(
                f"unsupported checkpoint version {document.get('version')!r}"
            )
        sequence = document.get("sequence")
        head_hash = document.get("head_hash")
        token = document.get("jws")
        kid = document.get("key_id")
        if not isinstance(sequence, int) or isinstance(sequence, bool) or sequence < 0:
            raise CheckpointFormatError("'sequence' must be a non-negative integer")
        if not isinstance(head_hash, str) or not _HEX64.match(head_hash):
            raise CheckpointFormatError("'head_hash' must be 64 lower-case hex digits")
        if not isinstance(token, str) or not isinstance(kid, str):
            raise CheckpointFormatError("'jws' and 'key_id' must be strings")
        created_at = _parse_time(document.get("created_at"))
        public_key = document.get("public_key")
        return cls(sequence=sequence, head_hash=head_hash, created_at=created_at, key_id=kid,
                   jws=token, public_key=public_key if isinstance(public_key, dict) else None)

    @classmethod
    def from_jws(cls, token: str) -> SignedCheckpoint:
        """Rebuild a checkpoint from its JWS alone (as the database stores it), unverified."""
        try:
            header = jws_header(token)
            payload = json.loads(_payload_bytes(token))
        except (SignatureInvalid, ValueError):
            raise CheckpointFormatError("the stored checkpoint JWS cannot be read") from None
        document = {**payload, "key_id": header.get("kid"), "jws": token} if isinstance(
            payload, dict) else {}
        return cls.from_json(json.dumps(document))

    def verify(self, trusted: PublicKey | PrivateKey | SigningKeyRing) -> str | None:
        """``None`` if this checkpoint was signed by ``trusted`` as written; else why not.

        ``trusted`` is one key or a ring: any key of the ring may have signed it.
        """
        if isinstance(trusted, SigningKeyRing):
            if self.key_id not in trusted:
                return (
                    f"the checkpoint was signed by key {self.key_id}, not by the configured audit "
                    f"signing keys ({', '.join(trusted.ids)}): an unknown or retired key"
                )
            keys: PublicKey | PrivateKey | dict[str, PublicKey] = trusted.verifying_keys()
        else:
            trusted_id = key_id(trusted)
            if self.key_id != trusted_id:
                return (
                    f"the checkpoint was signed by key {self.key_id}, not by the configured audit "
                    f"signing key {trusted_id}"
                )
            keys = trusted
        try:
            signed = jws_verify(self.jws, keys).json()
        except SignatureInvalid as exc:
            return f"the checkpoint's signature is invalid: {exc}"
        if signed != self.claims():
            return "the checkpoint's signature is invalid: its members differ from what was signed"
        return None


def _claims(sequence: int, head_hash: str, created_at: dt.datetime) -> dict[str, Any]:
    return {
        "type": CHECKPOINT_TYPE,
        "version": CHECKPOINT_VERSION,
        "sequence": sequence,
        "head_hash": head_hash,
        "created_at": canonical_time(created_at),
    }


def _parse_time(value: Any) -> dt.datetime:
    if not isinstance(value, str) or not value.endswith("Z"):
        raise CheckpointFormatError("'created_at' must be an ISO 8601 UTC time ending in 'Z'")
    try:
        parsed = dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        raise CheckpointFormatError("'created_at' must look like 2026-01-31T12:00:00.000000Z") from None
    return parsed.replace(tzinfo=dt.timezone.utc)


def _payload_bytes(token: str) -> bytes:
    return b64url_decode(token.split(".")[1])
