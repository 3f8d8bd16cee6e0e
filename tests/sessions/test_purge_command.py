"""``flask sessions purge``: ended and expired sessions leave the table."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from consentmgr.sessions import store
from consentmgr.sessions.models import EndReason, SessionKind, WebSession
from consentmgr.sql import utcnow

POLICY = store.Policy(idle=dt.timedelta(minutes=15), lifetime=dt.timedelta(hours=8))


def test_purge_deletes_ended_and_expired_sessions_and_says_how_many(runner, db):
    now = utcnow()
    store.start_session(db.session, SessionKind.PORTAL, b"{}", now=now, policy=POLICY)
    store.start_session(db.session, SessionKind.STAFF, b"{}", now=now - dt.timedelta(hours=9),
                        policy=POLICY)
    store.start_session(db.session, SessionKind.STAFF, b"{}", now=now, policy=POLICY)
    db.session.flush()
    newest = db.session.scalars(sa.select(WebSession).order_by(WebSession.created_at)).all()[-1]
    store.end_row(db.session, newest.id, EndReason.SIGNED_OUT, now=now)
    db.session.commit()

    result = runner.invoke(args=["sessions", "purge"])

    assert result.exit_code == 0, result.output
    assert "Deleted 2 ended or expired session(s)." in result.output
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WebSession)) == 1


def test_purge_uses_the_configured_idle_time(app, runner, db, monkeypatch, create_customer):
    monkeypatch.setitem(app.config, "PORTAL_IDLE_MINUTES", 5)
    store.start_session(db.session, SessionKind.PORTAL, b"{}",
                        now=utcnow() - dt.timedelta(minutes=6), policy=POLICY,
                        customer_id=create_customer().id)
    db.session.commit()

    assert "Deleted 1 " in runner.invoke(args=["sessions", "purge"]).output
