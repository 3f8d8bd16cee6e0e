"""Health checks for the process supervisor and the load balancer.

* ``GET /healthz`` — the process answers: 200 ``{"status": "ok"}``. It asks
  nothing of the database, so a database outage does not get healthy
  workers restarted.
* ``GET /readyz`` — this instance can serve: the database (and the key
  store, when it has its own) answers, both are migrated to the code's
  head revision, and the master keys unwrap a stored data key. 200 when all
  pass; otherwise 503, with each check's outcome as a fixed word (never an
  error message: those can name hosts, users or values).

Both are exempt from rate limits and CSRF, set no cookie, and write no
access-log line (``web/request_log.py``): probes call them every few seconds.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Callable

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from flask import Blueprint, Flask, Response, current_app, jsonify

from consentmgr.crypto import CryptoError
from consentmgr.extensions import KEYS_BIND, csrf, db, limiter
from consentmgr.keys.services import check_master_keys
from consentmgr.runtime import runtime

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)

OK = "ok"
PROBE_PATHS = frozenset({"/healthz", "/readyz"})
# alembic version tables (migrations/env.py): the main database's and the key store's.
VERSION_TABLES = {None: "alembic_version", KEYS_BIND: "alembic_version_keys"}


@bp.get("/healthz")
def healthz() -> Response:
    """The process is alive (no database involved)."""
    return _no_store(jsonify(status="ok"))


@bp.get("/readyz")
def readyz() -> Response:
    """Database, key store, migrations and master keys: 200 when all pass, else 503."""
    checks = {"database": _check(_database_answers, None)}
    keys_separate = KEYS_BIND in db.engines
    if keys_separate:
        checks["keys_database"] = _check(_database_answers, KEYS_BIND)
    reachable = all(outcome == OK for outcome in checks.values())
    checks["migrations"] = _check(_migrated, None) if reachable else "skipped"
    # The key store has its own version table, in its own database or in the main one.
    checks["keys_migrations"] = _check(_migrated, KEYS_BIND) if reachable else "skipped"
    migrated = all(outcome == OK for outcome in checks.values())
    checks["master_keys"] = _check(_master_keys_load, None) if migrated else "skipped"
    ready = all(outcome == OK for outcome in checks.values())
    if not ready:
        log.warning("not ready: %s", ", ".join(f"{name} {outcome}"
                                                for name, outcome in checks.items()
                                                if outcome != OK))
    response = jsonify(status="ok" if ready else "unavailable", checks=checks)
    response.status_code = 200 if ready else 503
    return _no_store(response)


def _check(check: Callable[[str | None], str], bind: str | None) -> str:
    """Run one check; any failure becomes a fixed word (the exception's text is never shown)."""
    try:
        return check(bind)
    except sa.exc.SQLAlchemyError:
        return "unreachable"
    except CryptoError:
        return "failed"
    finally:
        db.session.remove()


def _engine(bind: str | None) -> sa.Engine:
    return db.engines.get(bind) or db.engines[None]


def _database_answers(bind: str | None) -> str:
    with _engine(bind).connect() as connection:
        connection.execute(sa.text("SELECT 1"))
    return OK


def _migrated(bind: str | None) -> str:
    engine = _engine(bind)
    table = VERSION_TABLES[bind]
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table(table):
            return "not migrated"
        version_table = sa.table(table, sa.column("version_num"))
        versions = set(connection.execute(sa.select(version_table.c.version_num)).scalars())
    directory = current_app.extensions["migrate"].directory
    if versions == _heads(directory):
        return OK
    # Older than the code: run `flask db upgrade`. Unknown: a newer release migrated it.
    return "behind" if versions <= _known(directory) else "unknown revision"


def _master_keys_load(_bind: str | None) -> str:
    check_master_keys(db.session, runtime().master_keys)
    return OK


@lru_cache(maxsize=4)
def _heads(directory: str) -> frozenset[str]:
    """The head revisions of the migrations in ``directory`` (read once: code does not change)."""
    return frozenset(ScriptDirectory(directory).get_heads())


@lru_cache(maxsize=4)
def _known(directory: str) -> frozenset[str]:
    return frozenset(script.revision for script in ScriptDirectory(directory).walk_revisions())


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def init_health(app: Flask) -> None:
    """Register the two endpoints, outside rate limits, CSRF and sessions (after ``init_api``)."""
    limiter.exempt(bp)
    csrf.exempt(bp)
    app.register_blueprint(bp)
