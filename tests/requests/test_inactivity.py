"""Accounts inactive for the policy's period: warned, then closed by an erasure of the controller's."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa
import time_machine

from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from consentmgr.cli.purging import plan, run_purge, summary_lines
from consentmgr.consent.ledger import grant_consent
from consentmgr.customers import services as customers
from consentmgr.customers import signin
from consentmgr.customers.models import Customer, CustomerStatus, HistoryEntry
from consentmgr.errors import ValidationFailed
from consentmgr.requests import purge, services
from consentmgr.requests.inactivity import WARNING_DAYS
from consentmgr.requests.models import DataSubjectRequest, RequestChannel
from consentmgr.sql import utcnow
from tests.conftest import TEST_ACTOR
from tests.fixtures.smtp import deliver_mail
from tests.requests.conftest import DPO
from tests.requests.inactivity_policy import PERIOD, write_inactivity_policy

RECEIVED = "We have received your request"
WARNING = "Your account will be closed soon"
CLOSURE = "We have closed your inactive account"
#: Days from the start of a test: when a customer created then is warned, and closed.
WARN_AT = PERIOD - WARNING_DAYS + 1
CLOSE_AT = PERIOD + 1


@pytest.fixture
def start() -> dt.datetime:
    """The test's day 0 (the policy 2027-01 is in effect from day 35 at the latest)."""
    return utcnow()


@pytest.fixture
def inactivity_policy(tmp_path, publish_policy_files):
    """The shipped policies plus 2027-01, in effect from 1 January 2027, with inactive_after_days."""
    return publish_policy_files(write_inactivity_policy(tmp_path))


@pytest.fixture
def quiet_customer(db, create_customer, inactivity_policy, start):
    """Creator: a customer whose record was created ``days_ago`` days before day 0, idle since."""

    def create(days_ago: int = 0, **details):
        customer = create_customer(**details)
        db.session.execute(sa.update(Customer).where(Customer.id == customer.id)
                           .values(created_at=start - dt.timedelta(days=days_ago)))
        db.session.commit()
        return customer

    return create


@pytest.fixture
def run(db, start):
    """``run(day, dry_run=False, batch_size=1000)``: the purge, with the clock on that day."""

    def purge_on(day: int, *, dry_run: bool = False, batch_size: int = 1000):
        moment = start + dt.timedelta(days=day)
        with time_machine.travel(moment, tick=False):
            return run_purge(db.session, plan(db.session, now=moment), actor=TEST_ACTOR,
                             dry_run=dry_run, batch_size=batch_size)

    return purge_on


def _step(report, name=purge.INACTIVE_ACCOUNTS):
    return next(outcome for outcome in report.outcomes if outcome.name == name)


def _warned(report) -> int:
    return _step(report, purge.INACTIVE_WARNINGS).purged


def _status(db, customer) -> CustomerStatus:
    db.session.expire_all()
    return CustomerStatus(db.session.get(Customer, customer.id).status)


def _requests(db, customer) -> list[DataSubjectRequest]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(DataSubjectRequest)
                                   .where(DataSubjectRequest.customer_id == customer.id)))


def _subjects(outbox) -> list[str]:
    return [subject for _, subject, _ in outbox]


def test_a_quiet_account_is_warned_a_month_ahead_and_closed_when_the_period_ends(
        db, quiet_customer, outbox, run):
    customer = quiet_customer()

    assert _warned(run(WARN_AT - 2)) == 0
    assert _warned(run(WARN_AT)) == 1
    assert _step(run(CLOSE_AT - 2)).purged == 0
    assert _status(db, customer) == CustomerStatus.ACTIVE

    report = run(CLOSE_AT)

    assert _step(report).purged == 1 and _step(report).retention_days == PERIOD
    assert _warned(report) == 0  # told once
    assert _status(db, customer) == CustomerStatus.ERASED
    assert _subjects(outbox) == [WARNING, CLOSURE]


def test_a_run_whose_clock_moves_on_warns_each_customer_once(db, quiet_customer, outbox, start,
                                                            monkeypatch):
    # In production the warnings are audited after the run's "now": they must still count.
    for _ in range(2):
        quiet_customer()
    real, calls = purge.warn_inactive_accounts_batch, []

    def at_most_five_batches(*args, **kwargs):
        calls.append(1)
        assert len(calls) <= 5, "the same customers are warned again and again"
        return real(*args, **kwargs)

    monkeypatch.setattr(purge, "warn_inactive_accounts_batch", at_most_five_batches)
    moment = start + dt.timedelta(days=WARN_AT)
    with time_machine.travel(moment, tick=True):
        report = run_purge(db.session, plan(db.session, now=moment), actor=TEST_ACTOR,
                           batch_size=1)

    assert _warned(report) == 2 and _subjects(outbox) == [WARNING] * 2


def test_the_warning_says_when_and_how_to_keep_the_account(db, quiet_customer, outbox, run,
                                                           start):
    customer = quiet_customer()
    run(WARN_AT)

    [(to, subject, body)] = outbox
    closes_on = start + dt.timedelta(days=WARN_AT + WARNING_DAYS)
    assert to == customer.email and subject == WARNING
    assert f"{closes_on.day} {closes_on:%B %Y}" in body
    assert f"{PERIOD} days" in body and "sign in" in body
    assert RECEIVED not in body


def test_the_closure_is_an_erasure_request_started_by_the_controller(db, quiet_customer, outbox,
                                                                     run):
    customer = quiet_customer()
    run(WARN_AT)
    run(CLOSE_AT)

    [req] = _requests(db, customer)
    assert req.type == "erasure" and req.channel == RequestChannel.INACTIVITY
    assert req.status == "completed" and req.outcome == "erased"
    assert req.handled_by == str(TEST_ACTOR)[:128]


def test_the_customer_is_told_of_the_closure_and_not_that_they_asked_for_it(
        db, quiet_customer, outbox, run):
    customer = quiet_customer()
    address = customer.email
    run(WARN_AT)
    run(CLOSE_AT)

    (to, subject, body) = outbox[-1]
    assert to == address and subject == CLOSURE
    assert f"inactive for {PERIOD} days" in body and "We have erased your data." in body
    assert RECEIVED not in _subjects(outbox) and "Your request has been answered" not in _subjects(
        outbox)


def test_nobody_is_closed_without_a_warning_a_month_before(db, quiet_customer, outbox, run):
    # Quiet for years when the policy starts closing accounts: warned first, closed a month later.
    customer = quiet_customer(days_ago=2000)

    first = run(40)
    assert (_warned(first), _step(first).purged) == (1, 0)
    assert _step(run(40 + WARNING_DAYS - 1)).purged == 0
    assert _step(run(40 + WARNING_DAYS)).purged == 1
    assert _status(db, customer) == CustomerStatus.ERASED


def test_signing_in_after_the_warning_keeps_the_account(db, quiet_customer, outbox, run, start,
                                                        monkeypatch):
    monkeypatch.setattr(signin, "send_mail_after_commit", lambda *args, **kwargs: None)
    customer = quiet_customer()
    run(WARN_AT)
    with time_machine.travel(start + dt.timedelta(days=WARN_AT + 5), tick=False):
        signin.redeem_sign_in_link(signin.request_sign_in_link(customer.email).token)
        db.session.commit()

    report = run(CLOSE_AT)

    assert (_warned(report), _step(report).purged) == (0, 0)
    assert _status(db, customer) == CustomerStatus.ACTIVE
    # Quiet again: warned anew a month before the period, counted from the sign-in, ends.
    assert _warned(run(WARN_AT + 5 + WARN_AT - 2)) == 0
    assert _warned(run(WARN_AT + 5 + WARN_AT)) == 1


def test_any_activity_within_the_period_keeps_the_account_open(db, quiet_customer, outbox,
                                                               monkeypatch, run):
    monkeypatch.setattr(signin, "send_mail_after_commit", lambda *args, **kwargs: None)
    # Created long ago; each did one thing on day 0, one did nothing. The visit of day 0 is
    # purged by day 400 (browsing activity: 396 days): the audit trail remembers it.
    consent, history, request, signed_in, idle = (quiet_customer(days_ago=1000) for _ in range(5))
    grant_consent(consent, "marketing-email", actor=DPO, channel="staff")
    customers.add_history(history, {"occurred_at": utcnow().isoformat(), "channel": "web",
                                    "kind": "visit", "data_category": "browsing-activity",
                                    "summary": "Visit"}, actor=TEST_ACTOR)
    asked = services.file_request(request, "rectification", actor=DPO, channel="staff")
    services.withdraw_request(asked, actor=DPO)
    db.session.commit()
    signin.redeem_sign_in_link(signin.request_sign_in_link(signed_in.email).token)
    db.session.commit()

    assert _warned(run(400)) == 1
    assert _step(run(400 + WARNING_DAYS)).purged == 1

    assert _status(db, idle) == CustomerStatus.ERASED
    for active in (consent, history, request, signed_in):
        assert _status(db, active) == CustomerStatus.ACTIVE


def test_without_a_period_in_the_policy_no_account_is_closed(db, create_customer, policies,
                                                             outbox):
    customer = create_customer()

    report = run_purge(db.session, plan(db.session, now=utcnow() + dt.timedelta(days=5000)),
                       actor=TEST_ACTOR)

    assert _step(report).skipped == "policy 2026-03 sets no inactive_after_days"
    assert _step(report, purge.INACTIVE_WARNINGS).skipped == _step(report).skipped
    assert _status(db, customer) == CustomerStatus.ACTIVE and outbox == []


def test_a_dry_run_counts_and_changes_or_sends_nothing(db, quiet_customer, outbox, run):
    customer = quiet_customer()
    trail = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry))

    report = run(WARN_AT, dry_run=True)

    assert _warned(report) == 1
    assert f"  inactive-warnings ({PERIOD} days): 1 would be warned" in summary_lines(report)
    assert outbox == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == trail

    run(WARN_AT)
    trail = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry))
    report = run(CLOSE_AT, dry_run=True)

    assert _step(report).purged == 1
    assert f"  inactive-accounts ({PERIOD} days): 1 would close" in summary_lines(report)
    assert _status(db, customer) == CustomerStatus.ACTIVE
    assert _requests(db, customer) == [] and _subjects(outbox) == [WARNING]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == trail


def test_a_legal_hold_keeps_the_account_open_unwarned_and_is_counted(db, quiet_customer, outbox,
                                                                     run):
    held, free = quiet_customer(), quiet_customer()
    address = free.email
    services.place_legal_hold(held, actor=DPO, exception="legal-claims")
    db.session.commit()

    assert _warned(run(WARN_AT)) == 1
    outcome = _step(run(CLOSE_AT))

    assert (outcome.purged, outcome.held) == (1, 1)
    assert _status(db, held) == CustomerStatus.ACTIVE and _requests(db, held) == []
    assert _status(db, free) == CustomerStatus.ERASED
    assert {to for to, _, _ in outbox} == {address}


def test_an_account_with_an_open_request_is_left_to_staff(db, quiet_customer, outbox, run, start):
    customer = quiet_customer(days_ago=1000)
    services.file_request(customer, "rectification", actor=DPO, channel="staff",
                          now=start - dt.timedelta(days=900))
    db.session.commit()

    assert _warned(run(400)) == 0 and _step(run(400 + WARNING_DAYS)).purged == 0
    assert _status(db, customer) == CustomerStatus.ACTIVE


def test_batches_are_resumable_and_a_second_run_closes_nothing_more(db, quiet_customer, outbox,
                                                                   run):
    for _ in range(3):
        quiet_customer()

    assert _warned(run(WARN_AT, batch_size=2)) == 3
    first = _step(run(CLOSE_AT, batch_size=2))
    second = run(CLOSE_AT, batch_size=2)

    assert (first.purged, _step(second).purged, _warned(second)) == (3, 0, 0)
    assert _subjects(outbox) == [WARNING] * 3 + [CLOSURE] * 3


def test_what_the_law_requires_is_kept_and_erased_with_the_closed_accounts(
        db, quiet_customer, outbox, run):
    customer = quiet_customer(days_ago=800)
    # A purchase on day 0, the last activity: the invoice is kept 4018 days.
    invoice = customers.add_history(customer, {
        "occurred_at": utcnow().isoformat(), "channel": "web",
        "kind": "purchase", "data_category": "order-history", "summary": "Invoice 9"},
        actor=TEST_ACTOR).id
    db.session.commit()

    run(WARN_AT)
    run(CLOSE_AT)

    assert _status(db, customer) == CustomerStatus.RESTRICTED
    [req] = _requests(db, customer)
    assert req.outcome == "partly-erased"
    (_, _, body) = outbox[-1]
    assert "What we keep, because the law requires it" in body
    until = db.session.get(Customer, customer.id).retained_until

    report = run_purge(db.session, plan(db.session, now=until), actor=TEST_ACTOR)

    assert _step(report, purge.CLOSED_ACCOUNTS).purged == 1
    assert _status(db, customer) == CustomerStatus.ERASED
    assert db.session.get(HistoryEntry, invoice) is None


def test_every_warning_and_closure_is_audited_without_personal_data(db, quiet_customer, outbox,
                                                                    run):
    customer = quiet_customer(name="INACTIVENAME Example", email="inactive-person@example.org")
    run(WARN_AT)
    run(CLOSE_AT)

    entries = list(db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)))
    batches = {e.details["category"]: e for e in entries if e.action == actions.RETENTION_PURGED}
    assert batches[purge.INACTIVE_WARNINGS].details["purged"] == 1
    assert batches[purge.INACTIVE_ACCOUNTS].details["purged"] == 1
    assert batches[purge.INACTIVE_ACCOUNTS].details["retention_days"] == PERIOD
    assert all(batch.subject_id is None for batch in batches.values())
    [warning] = [e for e in entries if e.action == actions.RETENTION_INACTIVITY_WARNED]
    assert warning.subject_id == customer.id and warning.details["inactive_after_days"] == PERIOD
    closure = {e.action for e in entries if e.subject_id == customer.id}
    assert {actions.REQUEST_RECEIVED, actions.REQUEST_COMPLETED, actions.CUSTOMER_ERASED} <= closure
    written = json.dumps([entry.as_record() for entry in entries])
    for personal in ("INACTIVENAME", "inactive-person"):
        assert personal not in written


def test_nobody_files_an_inactivity_closure_by_hand(db, create_customer, policies):
    customer = create_customer()
    with pytest.raises(ValidationFailed) as failed:
        services.file_request(customer, "erasure", actor=DPO, channel="inactivity")
    assert "channel" in failed.value.errors


def test_the_warning_and_the_closure_arrive_at_a_real_smtp_server(app, db, quiet_customer,
                                                                   smtp_server, mail_to, run,
                                                                   start):
    controller, inbox = smtp_server
    mail_to(controller.port)
    customer = quiet_customer()
    address = customer.email

    for day in (WARN_AT, CLOSE_AT):
        run(day)
        deliver_mail(app, clock=lambda day=day: start + dt.timedelta(days=day, minutes=1))

    messages = inbox.to(address)
    assert [m["Subject"] for m in messages] == [WARNING, CLOSURE]
    assert "sign in" in messages[0].get_payload()
    assert f"inactive for {PERIOD} days" in messages[1].get_payload()
    assert all(m["Subject"] != RECEIVED for m in inbox.messages)
