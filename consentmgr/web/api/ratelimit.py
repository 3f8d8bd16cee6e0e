"""The API's rate limit: one window per verified API client, one per address for the rest.

A bearer string counts against its client only once it has been verified
(the client cache makes that a digest and a dictionary lookup); a missing,
malformed, unknown or revoked key counts against the caller's address, so
a new random token per call does not escape the limit.

It counts on Flask-Limiter's own backend (``limiter.limiter``: the
configured strategy and storage, memory or Redis), but checks the one
limit directly instead of through Flask-Limiter's per-request resolution
of decorators, exemptions and defaults, which cost more than the consent
check it guards (~200 µs a call). Flask-Limiter keeps doing that for the
HTML pages; a request filter tells it to leave the API alone.
"""

from __future__ import annotations

import math
import time
from functools import lru_cache, wraps
from typing import Any, Callable

from flask import Flask, current_app, request
from limits import RateLimitItem, parse
from werkzeug.exceptions import TooManyRequests

from consentmgr.apiclients.services import AuthenticatedClient
from consentmgr.extensions import limiter
from consentmgr.web.api.auth import caller

DEFAULT_RATE_LIMIT = "6000 per minute"
SCOPE = "api"


@lru_cache(maxsize=16)
def _parsed(text: str) -> RateLimitItem:
    return parse(text)


def rate_limit_key() -> str:
    """The verified client's id, or the caller's address (no key, or one that is not valid)."""
    if "Authorization" in request.headers:
        found = caller()
        if isinstance(found, AuthenticatedClient):
            return f"client:{found.id}"
    return "addr:" + (request.remote_addr or "unknown")


def enforce_rate_limit() -> None:
    """Count this request; 429 with ``Retry-After`` once the window is used up."""
    key = rate_limit_key()
    if counted(current_app, key):
        return
    item = _parsed(current_app.config.get("API_RATE_LIMIT", DEFAULT_RATE_LIMIT))
    reset_at = limiter.limiter.get_window_stats(item, SCOPE, key).reset_time
    raise TooManyRequests(retry_after=max(1, math.ceil(reset_at - time.time())))


def counted(app: Flask, key: str) -> bool:
    """Count one request of ``key``; False once its window is used up (True when limits are off)."""
    if not limiter.enabled:
        return True
    item = _parsed(app.config.get("API_RATE_LIMIT", DEFAULT_RATE_LIMIT))
    return limiter.limiter.hit(item, SCOPE, key)


def is_api_request() -> bool:
    """Flask-Limiter's request filter: the API counts its requests itself."""
    return request.blueprint == "api"


def leave_the_api_alone(app: Flask) -> None:
    """Make Flask-Limiter's own before-request hook step aside for the API at once.

    Its request filter (:func:`is_api_request`) says the same, but only after
    it has resolved the endpoint's limits and exemptions: ~70 µs a call, a
    fifth of a cached consent check. Call after ``limiter.init_app(app)``.
    """
    hooks = app.before_request_funcs.get(None, [])
    for index, hook in enumerate(hooks):
        if getattr(hook, "__self__", None) is limiter:
            hooks[index] = _pages_only(hook)


def _pages_only(hook: Callable[[], Any]) -> Callable[[], Any]:
    @wraps(hook)
    def pages_only() -> Any:
        if request.blueprint == "api":
            return None
        return hook()

    return pages_only
