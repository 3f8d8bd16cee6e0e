"""How far each API client has read the change feed, and so who was told of a change (GDPR Art. 19).

Art. 19 asks the controller to communicate a rectification, an erasure or a
restriction to every recipient, and to be able to say which. The change
feed (``GET /api/v1/events``) is how recipients are told; each client's
highest cursor served is kept on its row (``api_clients.feed_cursor``), by
one conditional UPDATE that writes only when the cursor grows. A request's
completion event is an audit entry with a cursor: the clients whose cursor
has passed it have been served that change.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from consentmgr.apiclients.auth import AuthenticatedClient
from consentmgr.apiclients.models import ApiClient
from consentmgr.audit import actions as audit_actions
from consentmgr.audit import services as audit
from consentmgr.extensions import db


def record_feed_read(client: AuthenticatedClient, cursor: int) -> None:
    """Raise ``client``'s feed cursor to ``cursor``, the last change it was served.

    One UPDATE that matches nothing unless the cursor grows (so a re-read
    of an older page, or a concurrent slower poll, never lowers it);
    flushes nothing else. Only cursors of changes actually served count: a
    client asking ``after`` a cursor beyond the end has been told nothing.
    """
    table = ApiClient.__table__
    db.session.execute(
        sa.update(table)
        .where(table.c.id == client.id,
               sa.or_(table.c.feed_cursor.is_(None), table.c.feed_cursor < cursor))
        .values(feed_cursor=cursor)
    )


def clients_past(cursor: int) -> list[ApiClient]:
    """Clients (revoked ones too) that were served the change at ``cursor`` or later, by name."""
    return list(db.session.scalars(
        sa.select(ApiClient).where(ApiClient.feed_cursor >= cursor)
        .order_by(ApiClient.name, ApiClient.id)))


def completion_cursor(customer_id: uuid.UUID, request_id: uuid.UUID) -> int | None:
    """The feed cursor of the request's completion event, or None while it is not completed.

    The event is the ``request.completed`` audit entry about the customer
    whose details name the request.
    """
    wanted = str(request_id)
    completions = audit.search_entries(subject_id=customer_id,
                                       action=audit_actions.REQUEST_COMPLETED,
                                       limit=audit.MAX_SEARCH_LIMIT)
    for entry in completions:
        if (entry.details or {}).get("request_id") == wanted:
            return entry.sequence
    return None


def notified_clients(customer_id: uuid.UUID, request_id: uuid.UUID) -> list[ApiClient]:
    """The clients that read the change feed past the request's completion event.

    Empty while the request is not completed (a refused or withdrawn
    request changed nothing to tell).
    """
    cursor = completion_cursor(customer_id, request_id)
    return [] if cursor is None else clients_past(cursor)


__all__ = ["clients_past", "completion_cursor", "notified_clients", "record_feed_read"]
