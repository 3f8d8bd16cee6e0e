"""API clients' lifecycle: create (key shown once), list, find, revoke.

A client's key is a token from :mod:`consentmgr.tokens` behind the marker
``cmk_``; only its SHA-256 is stored, and its first characters
(:data:`PREFIX_LENGTH`) tell keys apart in lists and logs.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Iterable

import sqlalchemy as sa

from consentmgr.actors import Actor
from consentmgr.apiclients.auth import KEY_MARKER, forget_client, hash_key
from consentmgr.apiclients.models import ApiClient
from consentmgr.audit import actions as audit_actions
from consentmgr.audit import services as audit
from consentmgr.errors import Conflict, NotFound, ValidationFailed
from consentmgr.extensions import db
from consentmgr.sql import as_uuid, get_or_raise, utcnow
from consentmgr.tokens import issue_token

SCOPES = ("customers:read", "customers:write", "consent:read", "consent:write", "events:read",
          "requests:read", "requests:write", "requests:decide", "customers:export")
SCOPES += ("webhooks:write",)  # register and manage signed webhooks (consentmgr/webhooks/)
PREFIX_LENGTH = 12  # "cmk_" and 8 random characters
MAX_NAME = 100


class ApiClientNotFound(NotFound):
    """No API client with that id or key prefix."""

    def __init__(self) -> None:
        super().__init__("No API client with that id or key prefix.")


def generate_key() -> str:
    """A new API key: the marker and 32 random bytes, URL-safe base64 (47 characters)."""
    return issue_token(32, prefix=KEY_MARKER).token


def _clean_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationFailed({"name": ["Give the client a name, e.g. the system it is for."]})
    name = name.strip()
    if len(name) > MAX_NAME or not name.isprintable():
        raise ValidationFailed({"name": [f"Use at most {MAX_NAME} printable characters."]})
    return name


def _clean_scopes(scopes: Iterable[str] | str) -> list[str]:
    if isinstance(scopes, str):
        scopes = scopes.replace(",", " ").split()
    wanted = [s.strip() for s in scopes if s and s.strip()]
    unknown = sorted(set(wanted) - set(SCOPES))
    if unknown:
        raise ValidationFailed({"scopes": [
            f"Unknown scope(s): {', '.join(unknown)}. Choose from: {', '.join(SCOPES)}."]})
    if not wanted:
        raise ValidationFailed({"scopes": [f"Give at least one scope from: {', '.join(SCOPES)}."]})
    # Canonical order, no duplicates.
    return [s for s in SCOPES if s in wanted]


def create_client(name: str, scopes: Iterable[str] | str, *, actor: Actor) -> tuple[ApiClient, str]:
    """Create a client; returns it and its key, which is shown once and never stored."""
    clean_name = _clean_name(name)
    clean_scopes = _clean_scopes(scopes)
    issued = issue_token(32, prefix=KEY_MARKER)
    client = ApiClient(
        id=uuid.uuid4(), name=clean_name, key_prefix=issued.token[:PREFIX_LENGTH],
        key_hash=issued.digest, scopes=clean_scopes, created_by=str(actor)[:128],
    )
    db.session.add(client)
    db.session.flush()
    audit.record(audit_actions.API_CLIENT_CREATED, actor=actor,
                 details={"client_id": str(client.id), "key_prefix": client.key_prefix,
                          "scopes": " ".join(clean_scopes)})
    return client, issued.token


def list_clients() -> list[ApiClient]:
    """Every client, oldest first (revoked ones included)."""
    return list(db.session.scalars(sa.select(ApiClient).order_by(ApiClient.created_at, ApiClient.id)))


def get_client(reference: uuid.UUID | str) -> ApiClient:
    """The client with this id or key prefix; raises :class:`ApiClientNotFound`."""
    if as_uuid(reference) is not None:
        return get_or_raise(db.session, ApiClient, reference, ApiClientNotFound)
    matches = list(db.session.scalars(
        sa.select(ApiClient).where(ApiClient.key_prefix == str(reference)[:PREFIX_LENGTH])))
    if len(matches) > 1:
        raise Conflict("More than one client has that key prefix; use the client id.")
    if not matches:
        raise ApiClientNotFound()
    return matches[0]


def revoke_client(client: ApiClient, *, actor: Actor, now: dt.datetime | None = None) -> ApiClient:
    """Revoke the client's key for good. Revoking twice changes nothing and writes no entry.

    This process refuses the key at once; others within their cache time.
    """
    if client.revoked_at is not None:
        return client
    client.revoked_at = now or utcnow()
    db.session.flush()
    forget_client(client.key_hash)
    audit.record(audit_actions.API_CLIENT_REVOKED, actor=actor,
                 details={"client_id": str(client.id), "key_prefix": client.key_prefix})
    return client


__all__ = [
    "MAX_NAME", "PREFIX_LENGTH", "SCOPES", "ApiClientNotFound", "create_client", "generate_key",
    "get_client", "hash_key", "list_clients", "revoke_client",
]
