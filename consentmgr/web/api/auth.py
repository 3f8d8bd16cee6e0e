"""Bearer-key authentication and scope checks for API operations."""

from __future__ import annotations

from copy import deepcopy
from functools import wraps
from typing import Any, Callable

from flask import Flask, current_app, g, request
from flask_smorest.utils import deepupdate

from consentmgr.apiclients.services import (
    DEFAULT_CACHE_SECONDS,
    AuthenticatedClient,
    InvalidApiKey,
    ScopeMissing,
    authenticate,
    use_is_due,
)
from consentmgr.runtime import runtime
from consentmgr.web.api.blueprint import problems

SECURITY_SCHEME = "bearerAuth"


def bearer_key() -> str | None:
    """The key from ``Authorization: Bearer <key>``; None when the header is absent."""
    return key_of(request.headers.get("Authorization"))


def key_of(header: str | None) -> str | None:
    """The key in an ``Authorization`` header's value (see :func:`bearer_key`)."""
    if header is None:
        return None
    scheme, _, key = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise InvalidApiKey("malformed", "Use 'Authorization: Bearer <key>'.")
    return key.strip()


def _cache_seconds() -> float:
    return cache_seconds(current_app)


def cache_seconds(app: Flask) -> float:
    """How long this app serves an active client from its cache (``API_KEY_CACHE_SECONDS``)."""
    return float(app.config.get("API_KEY_CACHE_SECONDS", DEFAULT_CACHE_SECONDS))


def caller() -> AuthenticatedClient | InvalidApiKey:
    """The verified client of this request, or why there is none; looked up once per request.

    The rate limit (before the operation) and :func:`requires` (in it) share
    the answer, so a key costs one digest and one cache or index lookup.
    """
    found = g.get("api_caller")
    if found is None:
        try:
            found = authenticate(bearer_key(), cache_seconds=_cache_seconds(), state=runtime())
        except InvalidApiKey as refused:
            found = refused
        g.api_caller = found
    return found


def current_client() -> AuthenticatedClient:
    """The client authenticated for this request (only inside a protected operation)."""
    return g.api_client


def requires(scope: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Authenticate the caller and require ``scope``; documents security, 401 and 403."""

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            client = caller()
            if isinstance(client, InvalidApiKey):
                raise InvalidApiKey(client.reason, str(client))
            if not client.has_scope(scope):
                raise ScopeMissing(scope)
            g.api_client = client
            if use_is_due(client, runtime()):
                g.api_record_use = True
            return func(*args, **kwargs)

        wrapper = problems(401, 403, 429)(wrapper)
        wrapper._apidoc = deepcopy(getattr(wrapper, "_apidoc", {}))
        wrapper._apidoc["manual_doc"] = deepupdate(
            deepcopy(wrapper._apidoc.get("manual_doc", {})),
            {"security": [{SECURITY_SCHEME: []}], "x-scope": scope},
        )
        return wrapper

    return decorator
