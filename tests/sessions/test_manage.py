"""Seeing and ending sessions: one's own, an administrator's power over everyone's, the audit."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa

from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from consentmgr.customers.signin import portal_actor
from consentmgr.sessions import manage, store
from consentmgr.sessions.models import SessionKind, WebSession
from consentmgr.sql import utcnow
from consentmgr.staff import services as staff_services

POLICY = store.Policy(idle=dt.timedelta(minutes=15), lifetime=dt.timedelta(hours=8))


@pytest.fixture
def staff(db, create_staff_user):
    """An agent, another agent and an administrator, as (login, actor)."""
    people = {}
    for name, role in (("agent", "agent"), ("colleague", "agent"), ("admin", "admin")):
        login = create_staff_user(role, password=None)
        people[name] = (login, staff_services.staff_actor(staff_services.get_staff(login.id)))
    return people


def _session_of(db, login, *, browser="Firefox on Linux") -> uuid.UUID:
    store.start_session(db.session, SessionKind.STAFF, b"{}", now=utcnow(), policy=POLICY,
                        staff_id=uuid.UUID(login.id), user_agent=browser)
    db.session.commit()
    return db.session.scalars(sa.select(WebSession.id).where(
        WebSession.staff_id == uuid.UUID(login.id)).order_by(WebSession.created_at.desc())).first()


def _entries(db, action):
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)))


def test_a_staff_member_sees_only_their_own_live_sessions(db, staff):
    mine = _session_of(db, staff["agent"][0])
    _session_of(db, staff["colleague"][0])
    ended = _session_of(db, staff["agent"][0])
    store.end_row(db.session, ended, "signed-out", now=utcnow())
    db.session.commit()

    listed = manage.active_staff_sessions(policy=POLICY, staff_id=staff["agent"][0].id)

    assert [s.id for s in listed] == [mine] and listed[0].browser == "Firefox on Linux"


def test_an_idle_session_is_not_listed(db, staff):
    sid = _session_of(db, staff["agent"][0])
    db.session.execute(sa.update(WebSession).where(WebSession.id == sid).values(
        last_seen_at=utcnow() - dt.timedelta(minutes=16)))
    db.session.commit()

    assert manage.active_staff_sessions(policy=POLICY, staff_id=staff["agent"][0].id) == []


def test_a_staff_member_ends_their_own_session_and_it_is_audited(db, staff):
    login, actor = staff["agent"]
    sid = _session_of(db, login)

    owner = manage.end_staff_session(sid, actor=actor)
    db.session.commit()

    assert str(owner) == login.id and db.session.get(WebSession, sid).ended_reason == "ended"
    [entry] = _entries(db, actions.STAFF_SESSION_ENDED)
    assert entry.actor_id == login.id
    assert entry.details == {"session_id": str(sid), "staff_id": login.id, "own": True}


def test_an_administrator_ends_anyones_session(db, staff):
    sid = _session_of(db, staff["agent"][0])

    manage.end_staff_session(sid, actor=staff["admin"][1])
    db.session.commit()

    assert db.session.get(WebSession, sid).ended_at is not None
    [entry] = _entries(db, actions.STAFF_SESSION_ENDED)
    assert entry.actor_id == staff["admin"][0].id and entry.details["own"] is False


def test_an_agent_cannot_end_a_colleagues_session(db, staff):
    sid = _session_of(db, staff["colleague"][0])

    with pytest.raises(manage.SessionNotFound):
        manage.end_staff_session(sid, actor=staff["agent"][1])
    db.session.rollback()

    assert db.session.get(WebSession, sid).ended_at is None
    assert _entries(db, actions.STAFF_SESSION_ENDED) == []


@pytest.mark.parametrize("session_id", ["not-an-id", str(uuid.uuid4())])
def test_ending_an_unknown_session_is_not_found(db, staff, session_id):
    with pytest.raises(manage.SessionNotFound):
        manage.end_staff_session(session_id, actor=staff["admin"][1])


def test_a_customer_signs_out_everywhere(db, create_customer):
    customer, other = create_customer(), create_customer()
    for owner in (customer, customer, other):
        store.start_session(db.session, SessionKind.PORTAL, b"{}", now=utcnow(), policy=POLICY,
                            customer_id=owner.id)
    db.session.commit()

    assert manage.sign_out_everywhere(customer.id, actor=portal_actor(customer)) == 2
    db.session.commit()

    live = db.session.scalars(sa.select(WebSession.customer_id).where(
        WebSession.ended_at.is_(None))).all()
    assert live == [other.id]
    [entry] = _entries(db, actions.PORTAL_SIGNED_OUT_EVERYWHERE)
    assert entry.subject_id == customer.id and entry.details == {"sessions": 2}
