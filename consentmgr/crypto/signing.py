"""Ed25519 signatures: keys from configuration, JWKs and compact JWS (EdDSA).

Used for the signed checkpoints of the audit trail and for consent receipts.
Pure functions over ``cryptography``; nothing here knows about Flask.

A private key is configured as the base64 of its 32 raw bytes (any 32 random
bytes are a valid Ed25519 key), or as a PKCS#8 PEM block such as
``openssl genpkey -algorithm ed25519`` writes. Public keys are published as
JWKs (RFC 8037, ``kty`` ``OKP``, ``crv`` ``Ed25519``) whose ``kid`` is the
RFC 7638 thumbprint, so the key id is derived from the key itself and a
verifier can check that a ``kid`` really names the key it came with.

Keys are configured as rings (:class:`SigningKeyRing`): several keys
separated by commas or white space, the first signs and every one verifies,
so a key can be rotated without making what it signed unverifiable.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from consentmgr.crypto.errors import CryptoError, KeyConfigError

PRIVATE_KEY_BYTES = 32
JWS_ALGORITHM = "EdDSA"

# Re-exported so that callers can annotate without importing ``cryptography``.
PrivateKey = Ed25519PrivateKey
PublicKey = Ed25519PublicKey


class SignatureInvalid(CryptoError):
    """A signature or a JWS did not verify (or could not be parsed)."""


class UnknownSigningKey(SignatureInvalid):
    """A JWS names (by ``kid``) a key that is not among the trusted ones."""

    def __init__(self, message: str, *, kid: object) -> None:
        super().__init__(message)
        self.kid = kid


def b64url_encode(data: bytes) -> str:
    """Base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url with or without padding; raises ``ValueError``."""
    if not isinstance(text, str) or any(c in text for c in "+/= \n"):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None


def generate_private_key_text() -> str:
    """A fresh private key in the configuration form (base64 of 32 raw bytes)."""
    return base64.b64encode(os.urandom(PRIVATE_KEY_BYTES)).decode("ascii")


def load_private_key(material: str | bytes, *, source: str) -> Ed25519PrivateKey:
    """Parse a configured private key.

    ``material`` is base64 (standard or url-safe) of the 32 raw key bytes,
    the 32 raw bytes themselves, or a PKCS#8 PEM block. ``source`` names the
    setting in error messages; the key material never appears in them.
    """
    if isinstance(material, bytes) and len(material) == PRIVATE_KEY_BYTES:
        return Ed25519PrivateKey.from_private_bytes(material)
    text = material.decode("ascii", "replace") if isinstance(material, bytes) else material
    text = text.strip()
    if not text:
        raise KeyConfigError(f"{source} is empty: expected the base64 of a 32-byte Ed25519 key")
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
        except (ValueError, TypeError):
            raise KeyConfigError(f"{source}: not a readable unencrypted PEM private key") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyConfigError(f"{source}: the PEM key is not an Ed25519 key")
        return key
    try:
        raw = base64.b64decode(text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4),
                               validate=True)
    except (binascii.Error, ValueError):
        raise KeyConfigError(f"{source}: not valid base64") from None
    if len(raw) != PRIVATE_KEY_BYTES:
        raise KeyConfigError(
            f"{source}: an Ed25519 private key is {PRIVATE_KEY_BYTES} bytes, got {len(raw)}"
        )
    return Ed25519PrivateKey.from_private_bytes(raw)


def private_key_text(key: Ed25519PrivateKey) -> str:
    """The configuration form of ``key`` (base64 of its raw bytes)."""
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return base64.b64encode(raw).decode("ascii")


def _public(key: Ed25519PrivateKey | Ed25519PublicKey) -> Ed25519PublicKey:
    return key.public_key() if isinstance(key, Ed25519PrivateKey) else key


def public_key_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of the public key (of a private key, its public half)."""
    return _public(key).public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256, base64url) of the public key."""
    x = b64url_encode(public_key_bytes(key))
    # RFC 7638: the required members only, lexicographic order, no whitespace.
    canonical = f'{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}'.encode("ascii")
    return b64url_encode(hashlib.sha256(canonical).digest())


def public_jwk(key: Ed25519PrivateKey | Ed25519PublicKey) -> dict[str, str]:
    """The public key as a JWK (RFC 8037) with ``kid``, ``alg`` and ``use``."""
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": b64url_encode(public_key_bytes(key)),
        "kid": key_id(key),
        "alg": JWS_ALGORITHM,
        "use": "sig",
    }


def public_key_from_jwk(jwk: Mapping[str, Any]) -> Ed25519PublicKey:
    """Read an Ed25519 public JWK; if it has a ``kid``, it must be the key's thumbprint."""
    if not isinstance(jwk, Mapping) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise KeyConfigError("not an Ed25519 public JWK (kty OKP, crv Ed25519)")
    try:
        raw = b64url_decode(jwk.get("x", ""))
    except ValueError:
        raise KeyConfigError("the JWK's 'x' is not base64url") from None
    if len(raw) != 32:
        raise KeyConfigError("the JWK's 'x' is not a 32-byte Ed25519 public key")
    public = Ed25519PublicKey.from_public_bytes(raw)
    if "kid" in jwk and jwk["kid"] != key_id(public):
        raise KeyConfigError("the JWK's 'kid' is not the thumbprint of its key")
    return public


def sign(key: Ed25519PrivateKey, data: bytes) -> bytes:
    """The 64-byte Ed25519 signature of ``data``."""
    return key.sign(data)


def verify(key: Ed25519PrivateKey | Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    """True if ``signature`` is a valid signature of ``data`` by ``key``."""
    try:
        _public(key).verify(signature, data)
    except InvalidSignature:
        return False
    return True


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON bytes: sorted keys, no whitespace, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def jws_sign(
    payload: bytes | Mapping[str, Any],
    key: Ed25519PrivateKey,
    *,
    header: Mapping[str, Any] | None = None,
) -> str:
    """A compact JWS (RFC 7515) signed with EdDSA (RFC 8037).

    A mapping payload is encoded as canonical JSON. The protected header
    always carries ``alg`` ``EdDSA`` and the key's ``kid``; ``header`` adds
    members such as ``typ`` (it cannot override ``alg`` or ``kid``).
    """
    body = canonical_json(payload) if isinstance(payload, Mapping) else bytes(payload)
    protected = {**(header or {}), "alg": JWS_ALGORITHM, "kid": key_id(key)}
    signing_input = f"{b64url_encode(canonical_json(protected))}.{b64url_encode(body)}"
    signature = key.sign(signing_input.encode("ascii"))
    return f"{signing_input}.{b64url_encode(signature)}"


@dataclass(frozen=True)
class VerifiedJws:
    """A JWS whose signature checked out: its protected header and payload bytes."""

    header: dict[str, Any]
    payload: bytes

    def json(self) -> Any:
        """The payload parsed as JSON; raises :class:`SignatureInvalid` if it is not."""
        try:
            return json.loads(self.payload)
        except ValueError:
            raise SignatureInvalid("the JWS payload is not JSON") from None


def jws_header(token: str) -> dict[str, Any]:
    """The protected header of a compact JWS, unverified (to pick the key by ``kid``)."""
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3:
        raise SignatureInvalid("not a compact JWS (expected three dot-separated parts)")
    try:
        header = json.loads(b64url_decode(parts[0]))
    except ValueError:
        raise SignatureInvalid("the JWS header is not base64url JSON") from None
    if not isinstance(header, dict):
        raise SignatureInvalid("the JWS header is not a JSON object")
    return header


def jws_verify(
    token: str,
    keys: Ed25519PublicKey | Ed25519PrivateKey | Mapping[str, Ed25519PublicKey],
) -> VerifiedJws:
    """Verify a compact EdDSA JWS and return its header and payload.

    ``keys`` is one trusted key, or trusted keys by ``kid``. Raises
    :class:`SignatureInvalid` if the token is malformed, uses another
    algorithm, names an unknown key, or its signature does not verify.
    """
    header = jws_header(token)
    if header.get("alg") != JWS_ALGORITHM:
        raise SignatureInvalid(f"the JWS algorithm must be {JWS_ALGORITHM}")
    if header.get("crit"):
        raise SignatureInvalid("the JWS has critical header parameters this verifier does not know")
    kid = header.get("kid")
    if isinstance(keys, Mapping):
        public = keys.get(kid) if isinstance(kid, str) else None
        if public is None:
            raise UnknownSigningKey(f"the JWS is signed by an unknown key (kid {kid!r})", kid=kid)
    else:
        public = _public(keys)
        if kid is not None and kid != key_id(public):
            raise SignatureInvalid(f"the JWS is signed by another key (kid {kid!r})")
    encoded_header, encoded_payload, encoded_signature = token.split(".")
    try:
        payload = b64url_decode(encoded_payload)
        signature = b64url_decode(encoded_signature)
    except ValueError:
        raise SignatureInvalid("the JWS payload or signature is not base64url") from None
    if not verify(public, signature, f"{encoded_header}.{encoded_payload}".encode("ascii")):
        raise SignatureInvalid("the JWS signature does not verify")
    return VerifiedJws(header=header, payload=payload)


# A PEM block, or one base64 key; entries of a ring are separated by commas or white space.
_RING_ENTRY = re.compile(r"-----BEGIN [A-Z ]+-----.*?-----END [A-Z ]+-----|[^,\s]+", re.DOTALL)


@dataclass(frozen=True, eq=False)
class SigningKeyRing:
    """Ed25519 signing keys in order: the first signs, every one of them verifies.

    Rotation puts a new key first and keeps the old ones after it, so that
    what they signed (receipts customers keep, checkpoints stored off the
    box) still verifies; a JWS names its key by ``kid`` (the RFC 7638
    thumbprint), so verification picks the key without trying each one.
    ``repr`` shows key ids only.
    """

    keys: tuple[Ed25519PrivateKey, ...]
    # Derived once: every verification looks its key up by kid.
    _public: dict[str, Ed25519PublicKey] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.keys:
            raise KeyConfigError("a signing key ring needs at least one key")
        public = {key_id(key): key.public_key() for key in self.keys}
        if len(public) != len(self.keys):
            raise KeyConfigError("a signing key ring holds the same key twice")
        object.__setattr__(self, "_public", public)

    @classmethod
    def of(cls, keys: Ed25519PrivateKey | SigningKeyRing | Iterable[Ed25519PrivateKey]
           ) -> SigningKeyRing:
        """``keys`` as a ring: a ring as it is, one key as a ring of one."""
        if isinstance(keys, SigningKeyRing):
            return keys
        if isinstance(keys, Ed25519PrivateKey):
            return cls((keys,))
        return cls(tuple(keys))

    @property
    def current(self) -> Ed25519PrivateKey:
        """The key that signs."""
        return self.keys[0]

    @property
    def ids(self) -> list[str]:
        """The key ids (thumbprints), the signing key's first."""
        return list(self._public)

    def verifying_keys(self) -> dict[str, Ed25519PublicKey]:
        """Every public key by its ``kid``, for :func:`jws_verify`."""
        return dict(self._public)

    def __contains__(self, kid: object) -> bool:
        return kid in self._public

    def jwks(self) -> dict[str, Any]:
        """A JSON Web Key Set (RFC 7517 section 5) of every public key, the signing key first."""
        return {"keys": [public_jwk(key) for key in self.keys]}

    def __repr__(self) -> str:
        return f"SigningKeyRing(ids={self.ids!r})"


def parse_signing_keyring(text: str, *, source: str) -> SigningKeyRing:
    """Parse private keys separated by commas or white space (PEM blocks too), first signs.

    ``source`` names the setting in error messages, with the entry's
    position; the key material never appears in them.
    """
    entries = _RING_ENTRY.findall(text or "")
    if not entries:
        raise KeyConfigError(
            f"{source} is empty: expected the base64 of 32-byte Ed25519 keys, comma-separated, "
            "the signing key first"
        )
    keys: list[Ed25519PrivateKey] = []
    seen: dict[str, int] = {}
    for position, entry in enumerate(entries, start=1):
        key = load_private_key(entry, source=f"{source} entry {position}")
        kid = key_id(key)
        if kid in seen:
            raise KeyConfigError(
                f"{source}: entries {seen[kid]} and {position} are the same key (kid {kid})"
            )
        seen[kid] = position
        keys.append(key)
    return SigningKeyRing(tuple(keys))


__all__ = [
    "JWS_ALGORITHM",
    "PrivateKey",
    "PublicKey",
    "SignatureInvalid",
    "SigningKeyRing",
    "UnknownSigningKey",
    "VerifiedJws",
    "b64url_decode",
    "b64url_encode",
    "canonical_json",
    "generate_private_key_text",
    "jws_header",
    "jws_sign",
    "jws_verify",
    "key_id",
    "load_private_key",
    "parse_signing_keyring",
    "private_key_text",
    "public_jwk",
    "public_key_bytes",
    "public_key_from_jwk",
    "sign",
    "verify",
]
