"""Deliveries to a real receiver: signed per Standard Webhooks, retried, dead-lettered, redelivered."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import sqlalchemy as sa

from consentmgr.crypto.webhook_signing import verify
from consentmgr.customers import services as customers
from consentmgr.sql import utcnow
from consentmgr.webhooks.delivery import RETRY_WINDOW
from consentmgr.webhooks.models import WebhookDelivery
from tests.conftest import TEST_ACTOR, postgresql_only
from tests.fixtures.audit import sequence_audit

RECTIFIED = ["customer.rectified"]


def _rectify(db, customer) -> None:
    customers.rectify_customer(customer, {"name": "Ada Rectified"}, actor=TEST_ACTOR)
    db.session.commit()


def _deliveries(db) -> list[WebhookDelivery]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(WebhookDelivery).order_by(WebhookDelivery.created_at)))


def _verified(received, secret: str) -> bool:
    return verify(secret, received.headers["webhook-id"], int(received.headers["webhook-timestamp"]),
                  received.body, received.headers["webhook-signature"])


def test_a_rectification_reaches_the_receiver_signed_with_the_secret(
        db, receiver, register, run_webhooks, create_customer):
    _, secret = register(receiver.url, RECTIFIED)
    customer = create_customer()
    _rectify(db, customer)

    outcomes = run_webhooks()

    assert [o.result for o in outcomes] == ["delivered"]
    [got] = receiver.received
    assert got.path == "/hooks/consent?src=test"
    assert got.headers["content-type"] == "application/json"
    assert got.headers["webhook-id"].startswith("msg_")
    assert got.headers["webhook-signature"].startswith("v1,")
    assert _verified(got, secret)
    assert got.json["type"] == "customer.rectified"
    assert got.json["data"]["customer_id"] == str(customer.id)
    assert got.json["data"]["change"] == "customer.rectified"


def test_a_tampered_body_or_another_secret_fails_verification(
        db, receiver, register, run_webhooks, create_customer):
    _, secret = register(receiver.url, RECTIFIED)
    _rectify(db, create_customer())
    run_webhooks()
    [got] = receiver.received
    assert not verify(secret, got.headers["webhook-id"], int(got.headers["webhook-timestamp"]),
                      got.body.replace(b"rectified", b"erased"), got.headers["webhook-signature"])
    other = "whsec_" + "QUJD" * 11
    assert not _verified(got, other)


def test_the_payload_holds_ids_and_the_change_and_no_personal_data(
        db, receiver, register, run_webhooks, create_customer):
    register(receiver.url, RECTIFIED)
    customer = create_customer(email="marker-person@example.org", name="Marker Name")
    _rectify(db, customer)
    run_webhooks()
    [got] = receiver.received
    assert b"marker" not in got.body.lower() and b"Ada" not in got.body
    assert set(got.json) == {"type", "timestamp", "data"}
    assert set(got.json["data"]) <= {"change", "customer_id", "purpose", "status",
                                     "policy_version", "request_id", "request_type", "cursor"}


def test_only_the_event_types_subscribed_to_are_sent(
        db, receiver, register, run_webhooks, create_customer, publish_policy_files):
    register(receiver.url, ["policy.published"])
    _rectify(db, create_customer())
    publish_policy_files()
    run_webhooks()
    assert {r.json["type"] for r in receiver.received} == {"policy.published"}
    assert all(r.json["data"]["version"] for r in receiver.received)


def test_a_consent_change_is_sent_as_consent_changed(
        db, receiver, register, run_webhooks, create_customer, publish_policy_files):
    from consentmgr.consent import services as consent

    publish_policy_files()
    register(receiver.url, ["consent.changed"])
    customer = create_customer()
    consent.grant_consent(customer, "personalisation", actor=TEST_ACTOR, channel="api")
    db.session.commit()
    run_webhooks()
    [got] = receiver.received
    assert got.json["data"]["change"] == "consent.granted"
    assert got.json["data"]["purpose"] == "personalisation"


def test_customer_events_need_a_client_allowed_to_read_the_change_feed(
        db, receiver, register, run_webhooks, create_customer):
    from consentmgr.apiclients.models import ApiClient
    from consentmgr.webhooks.models import WebhookSubscription

    subscription_id, _ = register(receiver.url, RECTIFIED)
    # The client loses events:read after registering: its customer events stop.
    client_id = db.session.get(WebhookSubscription, subscription_id).client_id
    db.session.get(ApiClient, client_id).scopes = ["webhooks:write"]
    db.session.commit()
    _rectify(db, create_customer())
    run_webhooks()
    assert receiver.received == []


def test_changes_before_the_registration_are_not_sent(
        db, receiver, register, run_webhooks, create_customer):
    _rectify(db, create_customer())
    run_webhooks()
    register(receiver.url, RECTIFIED)
    run_webhooks()
    assert receiver.received == []


def test_a_500_is_retried_after_a_backoff_with_the_same_message_id(
        db, receiver, register, run_webhooks, create_customer):
    _, secret = register(receiver.url, RECTIFIED)
    receiver.statuses = [500]
    _rectify(db, create_customer())
    start = utcnow()

    assert [o.result for o in run_webhooks(start)] == ["retry"]
    [delivery] = _deliveries(db)
    assert delivery.last_status == 500
    wait = delivery.next_attempt_at - start
    assert dt.timedelta(seconds=5) <= wait <= dt.timedelta(seconds=10)  # 10 s, jittered
    assert run_webhooks(start + dt.timedelta(seconds=1)) == []  # not yet due

    assert [o.result for o in run_webhooks(delivery.next_attempt_at)] == ["delivered"]
    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert _verified(second, secret)


def _fail_until_dead(db, receiver, run_webhooks, start: dt.datetime) -> int:
    receiver.statuses = [503] * 1000
    now = start
    for attempts in range(1, 100):
        [outcome] = run_webhooks(now)
        if outcome.result == "dead":
            return attempts
        assert outcome.result == "retry"
        [delivery] = _deliveries(db)
        now = delivery.next_attempt_at
    raise AssertionError("never dead-lettered")


def test_after_a_day_of_failures_the_delivery_is_dead_lettered(
        db, receiver, register, run_webhooks, create_customer):
    register(receiver.url, RECTIFIED)
    _rectify(db, create_customer())
    start = utcnow()
    attempts = _fail_until_dead(db, receiver, run_webhooks, start)

    [delivery] = _deliveries(db)
    assert delivery.state == "dead" and delivery.attempts == attempts
    assert 8 <= attempts <= 30
    assert delivery.dead_at <= delivery.retry_from + RETRY_WINDOW
    # The backoff grew: the attempts span most of the day.
    assert delivery.dead_at - start > dt.timedelta(hours=16)
    assert len(receiver.received) == attempts
    assert run_webhooks(delivery.dead_at + dt.timedelta(days=2)) == []  # never tried again


def test_redeliver_sends_a_dead_letter_again(
        app, db, receiver, register, run_webhooks, create_customer):
    register(receiver.url, RECTIFIED)
    _rectify(db, create_customer())
    _fail_until_dead(db, receiver, run_webhooks, utcnow())
    [delivery] = _deliveries(db)
    receiver.statuses = []

    runner = app.test_cli_runner()
    listed = runner.invoke(args=["webhooks", "dead-letters"])
    assert str(delivery.id) in listed.output and "HTTP 503" in listed.output
    result = runner.invoke(args=["webhooks", "redeliver", str(delivery.id)])
    assert result.exit_code == 0, result.output
    assert "1 dead letter(s)" in result.output

    assert [o.result for o in run_webhooks()] == ["delivered"]
    assert _deliveries(db)[0].state == "delivered"
    assert receiver.received[-1].headers["webhook-id"] == f"msg_{delivery.id.hex}"


def test_redeliver_without_ids_or_all_is_a_usage_error(app, db):
    result = app.test_cli_runner().invoke(args=["webhooks", "redeliver"])
    assert result.exit_code == 2


def test_a_redirect_is_not_followed(db, receiver, register, run_webhooks, create_customer):
    register(receiver.url, RECTIFIED)
    receiver.statuses = [302]
    receiver.extra_headers = {"Location": "http://169.254.169.254/latest/meta-data/"}
    _rectify(db, create_customer())
    assert [o.result for o in run_webhooks()] == ["retry"]
    assert len(receiver.received) == 1
    assert _deliveries(db)[0].last_status == 302


def test_a_target_that_became_forbidden_is_not_contacted(
        db, receiver, register, run_webhooks, create_customer):
    register(receiver.url, RECTIFIED)  # allowed when registered (private addresses allowed)
    _rectify(db, create_customer())
    assert [o.result for o in run_webhooks(allow_private=False)] == ["retry"]
    assert receiver.received == []
    assert _deliveries(db)[0].last_error == "ForbiddenTarget"


def test_after_a_rotation_both_secrets_sign_for_a_day(
        db, receiver, register, run_webhooks, create_customer):
    from consentmgr.webhooks.models import WebhookSubscription
    from consentmgr.webhooks.services import rotate_secret

    subscription_id, old = register(receiver.url, RECTIFIED)
    new = rotate_secret(db.session, db.session.get(WebhookSubscription, subscription_id),
                        actor=TEST_ACTOR)
    db.session.commit()
    _rectify(db, create_customer())
    run_webhooks()
    [got] = receiver.received
    assert len(got.headers["webhook-signature"].split()) == 2
    assert _verified(got, new) and _verified(got, old)

    _rectify(db, create_customer())
    run_webhooks(utcnow() + dt.timedelta(hours=25))
    later = receiver.received[-1]
    assert _verified(later, new) and not _verified(later, old)


def test_a_paused_webhook_gets_nothing_and_a_deleted_one_leaves_no_rows(
        db, receiver, register, run_webhooks, create_customer):
    from consentmgr.webhooks.models import WebhookSubscription
    from consentmgr.webhooks.services import delete_webhook, update_webhook

    subscription_id, _ = register(receiver.url, RECTIFIED)
    subscription = db.session.get(WebhookSubscription, subscription_id)
    update_webhook(db.session, subscription, scopes=["events:read"], actor=TEST_ACTOR,
                   allow_private=True, active=False)
    db.session.commit()
    _rectify(db, create_customer())
    run_webhooks()
    assert receiver.received == []
    delete_webhook(db.session, db.session.get(WebhookSubscription, subscription_id),
                   actor=TEST_ACTOR)
    db.session.commit()
    assert _deliveries(db) == []


def test_two_passes_never_fan_out_an_event_twice(
        db, receiver, register, run_webhooks, create_customer):
    register(receiver.url, RECTIFIED)
    _rectify(db, create_customer())
    run_webhooks()
    run_webhooks()
    assert len(_deliveries(db)) == 1 and len(receiver.received) == 1


def test_the_log_names_the_delivery_never_the_url_or_body(
        db, receiver, register, run_webhooks, create_customer, caplog):
    caplog.set_level("INFO", logger="consentmgr.webhooks")
    _, secret = register(receiver.url, RECTIFIED)
    customer = create_customer()
    _rectify(db, customer)
    run_webhooks()
    text = caplog.text
    assert "webhook delivery id=" in text
    assert "127.0.0.1" not in text and str(customer.id) not in text and secret not in text


def test_unknown_delivery_ids_redeliver_nothing(app, db):
    result = app.test_cli_runner().invoke(args=["webhooks", "redeliver", str(uuid.uuid4())])
    assert result.exit_code == 0 and "0 dead letter(s)" in result.output


def _wait_for(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


def test_worker_once_fans_out_and_delivers(app, db, runner, receiver, register, create_customer,
                                           monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOKS_ALLOW_PRIVATE", True)
    register(receiver.url, RECTIFIED)
    _rectify(db, create_customer())
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert [r.json["type"] for r in receiver.received] == ["customer.rectified"]


def test_the_worker_loop_delivers_a_change_without_waiting_for_the_job_poll(
        app, db, receiver, register, create_customer):
    from consentmgr.webhooks.delivery import DeliverySettings
    from consentmgr.webhooks.dispatcher import WebhookDispatcher

    register(receiver.url, RECTIFIED)
    loop = WebhookDispatcher(app, DeliverySettings(allow_private=True), poll=0.1)
    thread = loop.start()
    try:
        _rectify(db, create_customer())  # on PostgreSQL a sequencer must place it first
        if db.engine.dialect.name == "postgresql":
            sequence_audit(db)
        committed = time.monotonic()
        assert _wait_for(lambda: receiver.received)
        # Well under the job loop's 1 s poll (benchmarks/webhook_latency.py measures it).
        assert time.monotonic() - committed < 2.0
    finally:
        loop.stopping.set()
        thread.join(10)


def test_settled_deliveries_are_purged_after_their_keep(
        app, db, receiver, register, run_webhooks, create_customer):
    from consentmgr.webhooks.delivery import DeliverySettings
    from consentmgr.webhooks.dispatcher import WebhookRun

    register(receiver.url, RECTIFIED)
    _rectify(db, create_customer())
    run_webhooks()
    work = WebhookRun(db.session, DeliverySettings(), clock=lambda: utcnow() + dt.timedelta(days=6))
    assert work.purge() == 0
    work.clock = lambda: utcnow() + dt.timedelta(days=8)
    assert work.purge() == 1
    assert _deliveries(db) == []


@postgresql_only
def test_two_workers_fanning_out_at_once_write_each_delivery_once(
        app, db, receiver, register, create_customer):
    import threading

    from consentmgr.extensions import db as _db
    from consentmgr.unit_of_work import unit_of_work
    from consentmgr.webhooks.events import fan_out

    register(receiver.url, RECTIFIED)
    _rectify(db, create_customer())
    sequence_audit(db)
    second: list = []
    with app.app_context():
        first = _db.session
        assert fan_out(first, now=utcnow()).deliveries == 1  # holds the cursor's row lock

        def other_worker() -> None:
            with app.app_context():
                try:
                    with unit_of_work(_db.session):
                        second.append(fan_out(_db.session, now=utcnow()))
                finally:
                    _db.session.remove()

        thread = threading.Thread(target=other_worker)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive()  # waiting for the first worker's transaction
        first.commit()
        thread.join(10)
        _db.session.remove()
    assert second[0].deliveries == 0
    assert len(_deliveries(db)) == 1


def test_webhooks_list_shows_each_webhook_and_its_pending_and_dead_counts(
        app, db, receiver, register, run_webhooks, create_customer):
    subscription_id, secret = register(receiver.url, RECTIFIED)
    receiver.statuses = [500]
    _rectify(db, create_customer())
    run_webhooks()
    output = app.test_cli_runner().invoke(args=["webhooks", "list"]).output
    assert str(subscription_id) in output and "pending 1" in output and "dead 0" in output
    assert "customer.rectified" in output and secret not in output


def test_with_no_webhook_a_pass_moves_past_the_changes_without_reading_them(
        app, db, receiver, register, run_webhooks, create_customer, monkeypatch):
    from consentmgr.audit.models import AuditEntry
    from consentmgr.webhooks import events

    for _ in range(3):
        _rectify(db, create_customer())
    sequence_audit(db)
    db.session.execute(sa.update(events._CURSOR).values(position=0))  # behind every change
    db.session.commit()
    head = db.session.scalar(sa.select(sa.func.max(AuditEntry.sequence)))

    def unread(*args, **kwargs):
        raise AssertionError("entries were loaded with no webhook to write them for")

    monkeypatch.setattr(events.audit, "feed_entries", unread)
    run_webhooks()
    monkeypatch.undo()

    db.session.rollback()
    assert events._position(db.session) == head
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookDelivery)) == 0
    register(receiver.url, RECTIFIED)
    _rectify(db, create_customer())
    run_webhooks()
    assert len(receiver.received) == 1


def test_the_dispatcher_waits_its_interval_after_every_pass_busy_or_not(app, monkeypatch):
    """A pass drains what is there; passes back to back under load would each find a handful."""
    from consentmgr.webhooks.delivery import DeliverySettings
    from consentmgr.webhooks.dispatcher import WebhookDispatcher

    from tests.fixtures.loops import scripted

    dispatcher = WebhookDispatcher(app, DeliverySettings(allow_private=True), poll=0.2)
    events = scripted(monkeypatch, dispatcher, "run_once", [12, 0, 3])

    dispatcher.run()

    assert events == ["pass 12", "wait 0.2", "pass 0", "wait 0.2", "pass 3", "wait 0.2", "wait 0.2"]
