"""Idempotency-Key replays for the API's POSTs, on the shared unit of work.

A POST sent with ``Idempotency-Key: <key>`` is done once per API client
and key: a retry with the same body gets the first answer again (with
``Idempotent-Replayed: true``), a retry with a different body gets a 409.
The key is claimed in the same unit of work as the change, so the change
and the stored answer commit together (``consentmgr.unit_of_work``), and
a concurrent retry waits for the first attempt and then replays it.
Answers are kept for 24 hours, their bodies encrypted under the data key of
the customer they are about (see :func:`_answer_subject`); after that
customer's erasure a retry is a 409 instead of a replay.
"""

from __future__ import annotations

import re
import uuid
from copy import deepcopy
from functools import wraps
from typing import Any, Callable
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Response, current_app, request
from werkzeug.exceptions import HTTPException

from consentmgr.apiclients.models import IdempotencyRecord
from consentmgr.apiclients.services import (
    AuthenticatedClient,
    StoredResponse,
    claim_idempotency_key,
    complete_idempotency_key,
    request_fingerprint,
    stored_response,
)
from consentmgr.errors import ValidationFailed
from consentmgr.extensions import db
from consentmgr.runtime import runtime
from consentmgr.unit_of_work import rollback, transactional
from consentmgr.web.api.auth import current_client

HEADER = "Idempotency-Key"
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")

IDEMPOTENCY_KEY_PARAMETER = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "description": "A unique key (e.g. a UUID) per logical request. Retrying with the same "
                   "key and body replays the first answer; the same key with another body "
                   "is a 409. Kept for 24 hours, per API client; once the customer the "
                   "answer was about is erased, a retry is a 409 too.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
}


def _replay(stored: StoredResponse) -> Response:
    if stored.body is None:  # an answer about no customer: status and Location only
        response = current_app.response_class(status=stored.status_code)
    else:
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


def _claim(client: AuthenticatedClient, key: str) -> StoredResponse | IdempotencyRecord:
    fingerprint = request_fingerprint(request.method, request.path, request.get_data(cache=True),
                                      secret=runtime().settings.secret_key)
    try:
        return claim_idempotency_key(client, key, fingerprint)
    except sa.exc.IntegrityError:
        # A concurrent request with this key committed first: undo ours, replay its answer.
        rollback(db.session)
        return stored_response(client, key, fingerprint)


def _customer_in(location: str) -> uuid.UUID | None:
    """The ``customer_id`` of the API route ``location`` points to, if any."""
    path = urlsplit(location).path
    root = request.script_root
    if root and path.startswith(root):
        path = path[len(root):]
    try:
        _, args = current_app.create_url_adapter(request).match(path, method="GET")
    except HTTPException:
        return None
    found = args.get("customer_id")
    return found if isinstance(found, uuid.UUID) else None


def _answer_subject(response: Response) -> uuid.UUID | None:
    """The customer an answer is about, whose data key encrypts it for replays.

    Named in the URL (``/customers/<customer_id>/...``), in the answer
    (``customer_id``: a data-subject request), or by the answer's Location
    (a customer created or updated by ``POST /customers``).
    """
    found = (request.view_args or {}).get("customer_id")
    if isinstance(found, uuid.UUID):
        return found
    answer = response.get_json(silent=True)
    if isinstance(answer, dict) and answer.get("customer_id") is not None:
        try:
            return uuid.UUID(str(answer["customer_id"]))
        except ValueError:
            return None
    location = response.headers.get("Location")
    return _customer_in(location) if location else None


def idempotent_operation(func: Callable[..., Any]) -> Callable[..., Any]:
    """Run a POST as one unit of work that an ``Idempotency-Key`` makes safe to retry.

    Without the header it is plain :func:`~consentmgr.unit_of_work.transactional`.
    With it, the first answer below 400 is stored with the change and
    replayed to retries; a failed attempt stores nothing and may be retried.
    """

    @wraps(func)
    def operation(*args: Any, **kwargs: Any) -> Response:
        key = _idempotency_key()
        if key is None:
            return current_app.make_response(func(*args, **kwargs))
        claimed = _claim(current_client(), key)
        if isinstance(claimed, StoredResponse):
            return _replay(claimed)
        response = current_app.make_response(func(*args, **kwargs))
        if response.status_code < 400:
            complete_idempotency_key(claimed, response.status_code,
                                     response.get_data(as_text=True),
                                     response.headers.get("Location"),
                                     customer_id=_answer_subject(response))
        return response

    wrapper = transactional(operation)
    wrapper._apidoc = deepcopy(getattr(wrapper, "_apidoc", {}))
    manual = wrapper._apidoc.setdefault("manual_doc", {})
    manual["parameters"] = [*manual.get("parameters", []), IDEMPOTENCY_KEY_PARAMETER]
    return wrapper
