"""When the database cannot be reached: 503 with ``Retry-After``, not a 500 and a traceback.

The error handlers of each audience ask :func:`is_database_outage` first:
the API answers an ``unavailable`` problem, the pages a short 503 page.
Nothing is half-written: the unit of work around the failed statement
rolls back (and the session, kept in the database too, is not saved).
The app heals by itself when the database returns: the main pool discards a
connection whose socket shows the server went away before lending it
(:func:`consentmgr.extensions.tune_engines`), and the
consent check's own pool (``consentmgr/prepared.py``) retries once on a
fresh connection.

Configuration: ``UNAVAILABLE_RETRY_AFTER`` (``CONSENTMGR_UNAVAILABLE_RETRY_AFTER``,
default 30 seconds) is the ``Retry-After`` given.
"""

from __future__ import annotations

import logging
import sqlite3

import psycopg
import sqlalchemy as sa
from flask import current_app, g, request

log = logging.getLogger(__name__)

DEFAULT_RETRY_AFTER = 30
# SQLite's "the file is there but cannot be used now"; its other operational
# errors (a syntax error, a missing table) are bugs and stay 500s.
_SQLITE_UNAVAILABLE = ("database is locked", "unable to open database file", "disk i/o error")


def is_database_outage(exc: BaseException) -> bool:
    """True when ``exc`` says the database is unreachable or unusable now, not that a query is wrong."""
    if isinstance(exc, sa.exc.TimeoutError):
        return True  # no pooled connection came free in time
    if isinstance(exc, sa.exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        exc = exc.orig
    # psycopg: connection failures (SQLSTATE 08), a server shutting down (57P),
    # no resources (53): raised raw by the consent check's own pool, wrapped elsewhere.
    if isinstance(exc, psycopg.OperationalError):
        return True
    if isinstance(exc, sqlite3.OperationalError):
        return str(exc).lower().startswith(_SQLITE_UNAVAILABLE)
    return False


def retry_after() -> str:
    """The ``Retry-After`` value, in seconds."""
    return str(current_app.config.get("UNAVAILABLE_RETRY_AFTER", DEFAULT_RETRY_AFTER))


def mark_unavailable() -> None:
    """Note that this request met an outage: its session is not saved (see :func:`met_outage`)."""
    g.database_unavailable = True


def met_outage() -> bool:
    """True when this request met an outage: the session store leaves its session alone."""
    return bool(g.get("database_unavailable"))


def log_outage(exc: BaseException) -> None:
    """One short line: no traceback, no statement, no parameters (they may hold data)."""
    cause = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
    route = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
    log.warning("database unavailable (%s) during %s %s", type(cause).__name__, request.method,
                route)
