"""The write boundary of the API: one commit per request, and Idempotency-Key replays.

A POST sent with ``Idempotency-Key: <key>`` is done once per API client
and key: a retry with the same body gets the first answer again (with
``Idempotent-Replayed: true``), a retry with a different body gets a 409.
The key is claimed in the same transaction as the change, so the change and
the stored answer commit together, and a concurrent retry waits for the
first attempt and then replays it. Answers are kept for 24 hours.
"""

from __future__ import annotations

import re
from copy import deepcopy
from functools import wraps
from typing import Any, Callable

from flask import Response, current_app, request

from consentmgr.apiclients.services import (
    StoredResponse,
    claim_idempotency_key,
    complete_idempotency_key,
    request_fingerprint,
)
from consentmgr.errors import ValidationFailed
from consentmgr.extensions import db
from consentmgr.web.api.auth import current_client

HEADER = "Idempotency-Key"
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")

IDEMPOTENCY_KEY_PARAMETER = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "description": "A unique key (e.g. a UUID) per logical request. Retrying with the same "
                   "key and body replays the first answer; the same key with another body "
                   "is a 409. Kept for 24 hours, per API client.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
}


def _replay(stored: StoredResponse) -> Response:
    response = current_app.response_class(stored.body, status=stored.status_code,
                                          mimetype="application/json")
    if stored.location:
        response.headers["Location"] = stored.location
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _idempotency_key() -> str | None:
    key = request.headers.get(HEADER)
    if key is not None and not _KEY.match(key):
        raise ValidationFailed({HEADER: [
            "Use 1 to 255 visible ASCII characters (no spaces), e.g. a UUID."]})
    return key


def unit_of_work(*, idempotent: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Commit once if the operation succeeds, roll back otherwise; optionally idempotent."""

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Response:
            claim = None
            key = _idempotency_key() if idempotent else None
            if key is not None:
                fingerprint = request_fingerprint(request.method, request.path,
                                                  request.get_data(cache=True))
                claimed = claim_idempotency_key(current_client(), key, fingerprint)
                if isinstance(claimed, StoredResponse):
                    return _replay(claimed)
                claim = claimed
            response = current_app.make_response(func(*args, **kwargs))
            if response.status_code < 400:
                if claim is not None:
                    complete_idempotency_key(claim, response.status_code,
                                             response.get_data(as_text=True),
                                             response.headers.get("Location"))
                db.session.commit()
            else:
                db.session.rollback()
            return response

        if idempotent:
            wrapper._apidoc = deepcopy(getattr(wrapper, "_apidoc", {}))
            manual = wrapper._apidoc.setdefault("manual_doc", {})
            manual["parameters"] = [*manual.get("parameters", []), IDEMPOTENCY_KEY_PARAMETER]
        return wrapper

    return decorator
