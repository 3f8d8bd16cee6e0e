"""Secret tokens for links and keys: the holder gets the token, the database its SHA-256.

Sign-in links, password links and API keys all work the same way: a
random token goes to its holder once, and only its digest is stored, so a
copy of the database (or a backup) cannot be turned into working links or
keys. The tokens carry at least 192 random bits, so an unsalted SHA-256 is
enough: there is nothing to guess and no dictionary to try.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass


# Tokens mailed in links: 192 random bits, short enough that the link fits on
# one line of a plain-text mail (no quoted-printable breaks in the console).
LINK_TOKEN_BYTES = 24
_LINK_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{20,128}$")


@dataclass(frozen=True)
class IssuedToken:
    """A new token and the digest to store in its place."""

    token: str
    digest: str


def token_digest(token: str) -> str:
    """The hex SHA-256 stored for ``token``."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(nbytes: int = 32, *, prefix: str = "") -> IssuedToken:
    """A URL-safe random token of ``nbytes`` random bytes (after ``prefix``) and its digest."""
    token = prefix + secrets.token_urlsafe(nbytes)
    return IssuedToken(token=token, digest=token_digest(token))


def issue_link_token() -> IssuedToken:
    """A token for a mailed link (sign-in, email confirmation)."""
    return issue_token(LINK_TOKEN_BYTES)


def is_link_token(token: object) -> bool:
    """True when ``token`` could be one of our link tokens (checked before any lookup)."""
    return isinstance(token, str) and _LINK_TOKEN_SHAPE.match(token) is not None
