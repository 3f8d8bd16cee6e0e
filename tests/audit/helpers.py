"""Creators shared by the audit tests and the ``flask audit`` CLI tests."""

from __future__ import annotations

import uuid
from typing import Any, Callable

import sqlalchemy as sa

from consentmgr.actors import Actor
from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from tests.fixtures.audit import sequence_audit

AGENT = Actor("staff", "5b0f3c1e-0000-4000-8000-000000000001", "agent", display_name="Agnes Agent")


def recorder(db) -> Callable[..., list[AuditEntry]]:
    """``record(count, **overrides)`` records and commits staff views and reveals."""
    from consentmgr.audit.services import record

    def create(count: int, **overrides: Any) -> list[AuditEntry]:
        entries = []
        for number in range(count):
            values = {
                "actor": AGENT,
                "subject_id": uuid.uuid4(),
                "fields": ["phone"] if number % 2 else [],
                "reason_code": "support-ticket" if number % 2 else None,
                **overrides,
            }
            action = values.pop("action", actions.CUSTOMER_REVEAL if number % 2 else actions.CUSTOMER_VIEW)
            entries.append(record(action, **values))
        sequence_audit(db)  # as the worker would, within a second (PostgreSQL)
        return entries

    return create


def tamperer(db) -> Callable[..., None]:
    """``tamper(*statements)`` runs raw SQL as an attacker with database access would.

    On PostgreSQL it first disables the append-only triggers for its own
    transaction (``SET LOCAL session_replication_role = replica``; the tests
    connect as a superuser); they are back on when it commits.
    """

    def run(*statements: str | sa.Executable, **params: Any) -> None:
        db.session.commit()
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
            for statement in statements:
                conn.execute(sa.text(statement) if isinstance(statement, str) else statement, params)
        db.session.expire_all()

    return run
