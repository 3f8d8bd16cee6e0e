"""One session row's life: start, open (idle and absolute expiry judged from the row), end, purge."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import sqlalchemy as sa

from consentmgr.customers.services import erase_customer
from consentmgr.sessions import store
from consentmgr.sessions.models import EndReason, SessionKind, WebSession
from consentmgr.staff import services as staff_services
from consentmgr.tokens import token_digest
from tests.conftest import TEST_ACTOR

T0 = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.timezone.utc)
POLICY = store.Policy(idle=dt.timedelta(minutes=15), lifetime=dt.timedelta(hours=8))


def _start(db, kind=SessionKind.STAFF, payload=b'{"k": "v"}', *, at=T0, **owner) -> str:
    token = store.start_session(db.session, kind, payload, now=at, policy=POLICY, **owner)
    db.session.commit()
    return token


def _open(db, token, kind=SessionKind.STAFF, *, at):
    found = store.open_session(db.session, token, kind, now=at, policy=POLICY)
    db.session.commit()
    return found


def _row(db, token) -> WebSession:
    db.session.expire_all()
    return db.session.scalar(sa.select(WebSession).where(
        WebSession.token_hash == token_digest(token)))


def test_a_new_session_opens_with_its_data(db):
    token = _start(db)

    found = _open(db, token, at=T0 + dt.timedelta(minutes=1))

    assert isinstance(found, store.Opened) and found.payload == b'{"k": "v"}'
    assert found.staff_id is None  # a visitor's session has no owner yet


def test_the_id_has_at_least_128_random_bits_and_differs_each_time(db):
    tokens = {_start(db) for _ in range(20)}
    assert len(tokens) == 20 and all(store.well_formed(t) for t in tokens)
    assert all(len(t) * 6 >= 256 for t in tokens)


def test_the_table_holds_neither_the_id_nor_readable_data(db, create_staff_user):
    login = create_staff_user("agent", password=None)
    secret = f'{{"staff_id": "{login.id}", "csrf_token": "c5rf-t0ken"}}'.encode()
    token = _start(db, payload=secret, staff_id=uuid.UUID(login.id))

    with db.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(sa.select(WebSession.__table__))]
    dumped = json.dumps(rows, default=lambda v: v.hex() if isinstance(v, bytes) else str(v))
    raw = b"".join(r["data"] for r in rows)
    assert token not in dumped and token.encode() not in raw
    assert b"c5rf-t0ken" not in raw and b"csrf_token" not in raw and login.id.encode() not in raw
    assert rows[0]["token_hash"] == token_digest(token)


def test_an_unknown_or_malformed_id_opens_nothing(db):
    _start(db)
    for token in ("x" * 43, "short", "", "../../etc/passwd" + "a" * 27, "é" * 43):
        assert _open(db, token, at=T0) is None


def test_a_session_of_one_kind_does_not_open_as_the_other(db):
    token = _start(db, SessionKind.PORTAL)
    assert _open(db, token, SessionKind.STAFF, at=T0) is None


def test_a_signed_in_session_ends_after_the_idle_time(db, create_staff_user):
    staff_id = uuid.UUID(create_staff_user("agent", password=None).id)
    token = _start(db, staff_id=staff_id)

    found = _open(db, token, at=T0 + dt.timedelta(minutes=15, seconds=1))

    assert isinstance(found, store.Ended) and found.reason == EndReason.IDLE
    assert found.staff_id == staff_id
    row = _row(db, token)
    assert row.ended_reason == "idle" and row.data is None
    assert _open(db, token, at=T0 + dt.timedelta(minutes=16)) is None  # once, then nothing


def test_a_session_used_within_the_idle_time_continues(db, create_staff_user):
    staff_id = uuid.UUID(create_staff_user("agent", password=None).id)
    token = _start(db, staff_id=staff_id)

    assert isinstance(_open(db, token, at=T0 + dt.timedelta(minutes=14)), store.Opened)


def test_a_visitors_session_has_no_idle_timeout_only_the_lifetime(db):
    token = _start(db)  # a CSRF token for the sign-in form, nobody signed in

    assert isinstance(_open(db, token, at=T0 + dt.timedelta(hours=2)), store.Opened)
    assert _open(db, token, at=T0 + dt.timedelta(hours=8)).reason == EndReason.EXPIRED


def test_a_session_ends_at_its_absolute_lifetime_however_busy(db, create_staff_user):
    staff_id = uuid.UUID(create_staff_user("agent", password=None).id)
    token = _start(db, staff_id=staff_id)
    at = T0
    while at < T0 + dt.timedelta(hours=8) - dt.timedelta(minutes=10):
        at += dt.timedelta(minutes=10)
        opened = _open(db, token, at=at)
        assert isinstance(opened, store.Opened)
        store.touch(db.session, opened, now=at)
        db.session.commit()

    found = _open(db, token, at=T0 + dt.timedelta(hours=8))

    assert isinstance(found, store.Ended) and found.reason == EndReason.EXPIRED


def test_activity_is_written_at_most_once_a_minute(db):
    token = _start(db)

    assert _open(db, token, at=T0 + dt.timedelta(seconds=59)).touch_due is False
    assert _open(db, token, at=T0 + dt.timedelta(seconds=60)).touch_due is True


def test_an_ended_session_opens_nothing(db):
    token = _start(db)
    opened = _open(db, token, at=T0)

    assert store.end_row(db.session, opened.id, EndReason.SIGNED_OUT, now=T0)
    db.session.commit()

    assert _open(db, token, at=T0) is None
    assert not store.end_row(db.session, opened.id, EndReason.SIGNED_OUT, now=T0)


def test_data_that_does_not_open_ends_the_session(db):
    token = _start(db)
    other = _start(db)
    db.session.execute(sa.update(WebSession).where(WebSession.token_hash == token_digest(token))
                       .values(data=_row(db, other).data))
    db.session.commit()

    assert _open(db, token, at=T0) is None
    assert _row(db, token).ended_reason == "invalid"


def test_saved_data_replaces_the_old(db):
    token = _start(db)
    opened = _open(db, token, at=T0)

    store.save_data(db.session, opened, token, b'{"new": 1}', now=T0 + dt.timedelta(seconds=5))
    db.session.commit()

    assert _open(db, token, at=T0 + dt.timedelta(seconds=6)).payload == b'{"new": 1}'


def test_purge_deletes_ended_expired_and_idle_sessions_and_keeps_live_ones(db, create_staff_user):
    staff_id = uuid.UUID(create_staff_user("agent", password=None).id)
    live = _start(db, staff_id=staff_id, at=T0)
    idle = _start(db, staff_id=staff_id, at=T0 - dt.timedelta(minutes=30))
    expired = _start(db, at=T0 - dt.timedelta(hours=9))
    ended = _start(db, at=T0)
    store.end_row(db.session, _row(db, ended).id, EndReason.SIGNED_OUT, now=T0)
    db.session.commit()

    deleted = store.purge(db.session, now=T0 + dt.timedelta(minutes=1),
                          policies={SessionKind.STAFF: POLICY, SessionKind.PORTAL: POLICY})
    db.session.commit()

    assert deleted == 3
    assert _row(db, live) is not None
    assert all(_row(db, t) is None for t in (idle, expired, ended))


def test_erasing_a_customer_ends_all_their_sessions_in_the_same_transaction(db, create_customer):
    customer = create_customer()
    tokens = [_start(db, SessionKind.PORTAL, customer_id=customer.id) for _ in range(2)]
    other = _start(db, SessionKind.PORTAL, customer_id=create_customer().id)

    erase_customer(customer, actor=TEST_ACTOR)
    db.session.rollback()  # undone: the sessions stay
    assert all(_row(db, t).ended_at is None for t in tokens)

    customer = db.session.merge(customer)
    erase_customer(customer, actor=TEST_ACTOR)
    db.session.commit()

    assert [_row(db, t).ended_reason for t in tokens] == ["erased", "erased"]
    assert _row(db, other).ended_at is None


def test_deactivating_a_staff_member_ends_all_their_sessions(db, create_staff_user):
    create_staff_user("admin", password=None)
    login = create_staff_user("agent", password=None)
    tokens = [_start(db, staff_id=uuid.UUID(login.id)) for _ in range(2)]

    staff_services.deactivate(staff_services.get_staff(login.id), actor=TEST_ACTOR)
    db.session.commit()

    assert [_row(db, t).ended_reason for t in tokens] == ["deactivated", "deactivated"]
