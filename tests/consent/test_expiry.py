"""Consent that expires: the check (single, bulk, cached), recording the expiry, the reminder."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from consentmgr import create_app
from consentmgr.audit.models import AuditEntry
from consentmgr.cli.worker import worker_registry
from consentmgr.config import ConfigError
from consentmgr.consent import services
from consentmgr.consent.check_cache import MISS
from consentmgr.consent.expiry import (
    EXPIRY_SCHEDULE,
    REMINDER_SCHEDULE,
    record_expiries,
    send_renewal_reminders,
)
from consentmgr.consent.models import ConsentState
from consentmgr.customers.models import CustomerStatus
from consentmgr.extensions import db as _db
from consentmgr.mail import queued_mail, send_mail_after_commit
from consentmgr.mail.models import OutboxMessage
from consentmgr.policies.services import publish_policies
from consentmgr.sql import utcnow
from tests.conftest import TEST_ACTOR, base_config, postgresql_only
from tests.consent.expiring import (
    EXPIRING,
    SURVEYS,
    TERM,
    expiring_front_matter,
    write_expiring_policy,
)
from tests.consent.test_check_cache import cache, check, warm  # noqa: F401
from tests.fixtures.audit import sequence_audit
from tests.fixtures.smtp import deliver_mail
from tests.policies.policy_files import write_policy

SECOND = dt.timedelta(seconds=1)
NOTICE = dt.timedelta(days=30)


@pytest.fixture
def expiring_policy(db, tmp_path):
    """The test policy: consent to marketing lasts TERM, to surveys until withdrawn."""
    publish_policies(write_expiring_policy(tmp_path / "policies"), actor=TEST_ACTOR)
    db.session.commit()


@pytest.fixture
def grant(expiring_policy, create_customer):
    """``grant(purpose=EXPIRING, collected_at=None, customer=None)``: commit a grant, return
    ``(customer, state)``."""

    def do(purpose: str = EXPIRING, *, collected_at: dt.datetime | None = None, customer=None):
        customer = customer or create_customer()
        services.grant_consent(customer, purpose, actor=TEST_ACTOR, channel="api",
                               collected_at=collected_at)
        _db.session.commit()
        return customer, _db.session.get(ConsentState, (customer.id, purpose))

    return do


# ------------------------------------------------------------------ the check


def test_a_grant_is_allowed_until_its_term_ends_and_then_expired(grant):
    customer, state = grant()

    assert state.expires_at == state.updated_at + TERM
    before = services.check_consent(customer.id, EXPIRING, now=state.expires_at - SECOND)
    after = services.check_consent(customer.id, EXPIRING, now=state.expires_at)
    assert (before.allowed, before.status, before.reason) == (True, "given", "consent-given")
    assert (after.allowed, after.status, after.reason) == (False, "expired", "expired")
    assert after.expires_at == before.expires_at == state.expires_at


def test_expiry_writes_nothing(grant):
    customer, state = grant()
    event_id, updated = state.event_id, state.updated_at

    services.check_consent(customer.id, EXPIRING, now=state.expires_at + TERM)

    _db.session.expire_all()
    again = _db.session.get(ConsentState, (customer.id, EXPIRING))
    assert (again.status, again.event_id, again.updated_at) == ("given", event_id, updated)


def test_a_purpose_without_a_term_never_expires(grant):
    customer, state = grant(SURVEYS)

    assert state.expires_at is None
    assert services.check_consent(customer.id, SURVEYS, now=utcnow() + 50 * TERM).allowed


def test_the_term_runs_from_when_the_consent_was_collected(grant):
    collected = utcnow() - TERM - dt.timedelta(days=1)
    customer, state = grant(collected_at=collected)

    assert state.expires_at == collected + TERM
    assert services.check_consent(customer.id, EXPIRING).reason == "expired"


def test_a_new_grant_starts_a_new_term(grant):
    customer, _ = grant(collected_at=utcnow() - 2 * TERM)
    assert services.check_consent(customer.id, EXPIRING).reason == "expired"

    _, second = grant(customer=customer)

    assert second.expires_at > utcnow() + TERM - dt.timedelta(minutes=5)
    assert services.check_consent(customer.id, EXPIRING).allowed


def test_a_withdrawal_has_no_term(grant):
    customer, _ = grant()
    services.withdraw_consent(customer, EXPIRING, actor=TEST_ACTOR, channel="api")
    _db.session.commit()

    state = _db.session.get(ConsentState, (customer.id, EXPIRING))
    assert state.expires_at is None
    later = services.check_consent(customer.id, EXPIRING, now=utcnow() + 2 * TERM)
    assert later.reason == "withdrawn" and later.expires_at is None


def test_the_bulk_check_answers_expired_too(grant):
    fresh, state = grant()
    old, _ = grant(collected_at=utcnow() - 2 * TERM)
    pairs = [(fresh.id, EXPIRING), (old.id, EXPIRING), (old.id, SURVEYS)]

    now = [d.reason for d in services.check_many(pairs)]
    later = [d.reason for d in services.check_many(pairs, now=state.expires_at)]

    assert now == ["consent-given", "expired", "not-given"]
    assert later == ["expired", "expired", "not-given"]


def test_the_overview_shows_the_purpose_as_expired(grant):
    customer, state = grant()

    overview = {c.info.slug: c for c in services.consent_overview(customer, now=state.expires_at)}

    assert overview[EXPIRING].decision.status == "expired"
    assert overview[EXPIRING].can_grant and not overview[EXPIRING].can_withdraw


def test_an_expired_consent_is_expired_even_if_the_notice_changed_since(grant, tmp_path):
    customer, _ = grant(collected_at=utcnow() - 2 * TERM)
    changed = expiring_front_matter(version="v2", effective_date="2025-06-01")
    changed["purposes"][1]["description"] = "Send offers, and now also by post."
    write_policy(tmp_path / "policies", changed, name="v2.md")
    publish_policies(tmp_path / "policies", actor=TEST_ACTOR)
    _db.session.commit()

    # Over is over: the customer is asked again either way, and told the consent ended.
    assert services.check_consent(customer.id, EXPIRING).status == "expired"


@postgresql_only
def test_a_cached_allowed_is_not_served_after_the_term_ends(cache, grant):  # noqa: F811
    customer, state = grant()
    warm(cache, customer.id, EXPIRING)
    assert check(customer.id, EXPIRING).allowed

    _db.session.remove()
    after = services.check_consent(customer.id, EXPIRING, now=state.expires_at)

    assert cache.get(customer.id, EXPIRING)[0] is not MISS  # the row is still held ...
    assert (after.allowed, after.reason) == (False, "expired")  # ... and answers expired
    assert after == uncached_at(customer.id, state.expires_at)


def uncached_at(customer_id, now):
    _db.session.remove()
    with _db.session.begin():
        _db.session.execute(sa.text("SELECT 1"))
        return services.check_consent(customer_id, EXPIRING, now=now)


# --------------------------------------------------- recording the expiry


def test_a_lapsed_grant_is_recorded_as_expired_once_and_told_to_the_feed(grant, db):
    old, _ = grant(collected_at=utcnow() - 2 * TERM)
    fresh, _ = grant()
    answer_before = services.check_consent(old.id, EXPIRING)

    first = record_expiries(_db.session, now=utcnow())
    second = record_expiries(_db.session, now=utcnow())
    sequence_audit(db)

    assert (first, second) == (1, 0)
    assert _db.session.get(ConsentState, (old.id, EXPIRING)).status == "expired"
    assert _db.session.get(ConsentState, (fresh.id, EXPIRING)).status == "given"
    assert services.check_consent(old.id, EXPIRING) == answer_before  # the check said so already
    expired = [i for i in services.change_feed() if i.type == "consent.expired"]
    assert [(i.customer_id, i.purpose, i.status, i.policy_version) for i in expired] == [
        (old.id, EXPIRING, "expired", "v1")]


def test_the_expiry_entry_holds_no_personal_data(grant, db):
    customer, _ = grant(collected_at=utcnow() - 2 * TERM)
    record_expiries(_db.session, now=utcnow())
    sequence_audit(db)

    entry = _db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "consent.expired"))
    assert entry.subject_id == customer.id and entry.actor_type == "system"
    assert set(entry.details) == {"purpose", "status", "policy_version", "expired_at"}
    assert customer.email not in str(entry.details)


def test_a_grant_given_again_before_the_job_runs_is_left_given(grant):
    customer, _ = grant(collected_at=utcnow() - 2 * TERM)
    grant(customer=customer)

    assert record_expiries(_db.session, now=utcnow()) == 0
    assert services.check_consent(customer.id, EXPIRING).allowed


def test_the_worker_records_expiries_on_its_schedule(app, grant, db):
    customer, _ = grant(collected_at=utcnow() - 2 * TERM)

    deliver_mail(app)

    _db.session.expire_all()
    assert _db.session.get(ConsentState, (customer.id, EXPIRING)).status == "expired"
    assert EXPIRY_SCHEDULE in worker_registry(app).schedules


# ------------------------------------------------------------ the reminder


def remind(**options):
    """One run of the reminders, now, with the default notice, queued in the sealed outbox."""
    return send_renewal_reminders(_db.session, now=utcnow(), notice=NOTICE,
                                  send=send_mail_after_commit, **options)


def expiring_in(days: float) -> dt.datetime:
    """A collection time whose term ends ``days`` from now."""
    return utcnow() - TERM + dt.timedelta(days=days)


def test_a_reminder_is_queued_once_for_a_grant_about_to_expire(grant):
    customer, _ = grant(collected_at=expiring_in(10))

    first = remind()
    second = remind()
    _db.session.commit()

    assert (first.sent, second.sent) == (1, 0)
    (letter,) = queued_mail()
    assert letter.to == customer.email
    assert letter.subject == "Your consent is about to end"
    assert "“Newsletter”" in letter.body
    assert _db.session.get(ConsentState, (customer.id, EXPIRING)).reminded_at is not None


def test_no_reminder_before_the_notice_period_nor_after_expiry(grant):
    grant(collected_at=expiring_in(45))
    grant(collected_at=expiring_in(-1))
    grant(SURVEYS)

    run = remind()

    assert run.handled == 0 and queued_mail() == []


def test_a_restricted_customer_is_not_reminded(grant):
    customer, _ = grant(collected_at=expiring_in(10))
    customer.status = CustomerStatus.RESTRICTED
    _db.session.commit()

    assert remind().sent == 0


def test_a_new_grant_gets_its_own_reminder(grant):
    customer, _ = grant(collected_at=expiring_in(10))
    remind()
    grant(customer=customer, collected_at=expiring_in(5))

    assert remind().sent == 1
    assert len(queued_mail()) == 2


def test_reminders_go_in_batches_until_none_is_left(grant):
    for _ in range(3):
        grant(collected_at=expiring_in(10))

    runs = [remind(batch=2).handled for _ in range(3)]

    assert runs == [2, 1, 0]


def test_the_queued_reminder_holds_no_address_or_name_in_clear(grant):
    customer, _ = grant(collected_at=expiring_in(10))
    remind()
    _db.session.commit()

    raw = b"".join(bytes(v) if isinstance(v, (bytes, memoryview)) else str(v).encode()
                   for row in _db.session.execute(sa.select(OutboxMessage.__table__))
                   for v in row if v is not None)
    assert raw
    assert customer.email.encode() not in raw
    assert b"Newsletter" not in raw and b"consent" not in raw


def test_the_worker_mails_the_reminder_once_through_a_real_smtp_server(
        app, grant, smtp_server, mail_to):
    controller, inbox = smtp_server
    mail_to(controller.port)
    customer, _ = grant(collected_at=expiring_in(10))

    deliver_mail(app)
    # An hour later the schedule runs again: the grant was reminded already.
    deliver_mail(app, clock=lambda: utcnow() + dt.timedelta(hours=2))

    assert [m["To"] for m in inbox.messages] == [customer.email]
    assert inbox.messages[0]["Subject"] == "Your consent is about to end"
    assert "give your consent again" in inbox.messages[0].get_payload()


def test_the_reminder_schedule_is_registered_with_the_worker(app):
    assert REMINDER_SCHEDULE in worker_registry(app).schedules


def test_the_notice_period_is_a_setting(database_url, tmp_path):
    with pytest.raises(ConfigError, match="CONSENTMGR_CONSENT_RENEWAL_NOTICE_DAYS"):
        create_app(base_config(database_url, str(tmp_path),
                               CONSENTMGR_CONSENT_RENEWAL_NOTICE_DAYS="30d"))
    app = create_app(base_config(database_url, str(tmp_path),
                                 CONSENTMGR_CONSENT_RENEWAL_NOTICE_DAYS="14"))
    assert app.config["CONSENT_RENEWAL_NOTICE_DAYS"] == 14
    assert REMINDER_SCHEDULE in worker_registry(app).schedules
