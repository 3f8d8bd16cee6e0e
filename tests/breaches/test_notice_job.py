"""Telling customers about a breach (Art. 34): the request asks, the worker mails in batches."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from consentmgr.breaches import services
from consentmgr.breaches.models import BreachNoticeRun, BreachRecipient
from consentmgr.errors import ValidationFailed
from consentmgr.jobs.models import Job
from consentmgr.jobs.queue import claim_next
from consentmgr.jobs.runner import DEFAULT_LEASE
from consentmgr.mail import DELIVERY_JOB, OutboxMessage, queued_mail
from consentmgr.sql import utcnow
from tests.fixtures.smtp import deliver_mail

HOUR = dt.timedelta(hours=1)


def _count(db, model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def _jobs(db, kind: str) -> list[Job]:
    return list(db.session.scalars(sa.select(Job).where(Job.kind == kind)))


@pytest.fixture
def incident(db, record_breach, dpo_actor, create_staff_user, create_customer, views_by):
    """A breach that needs telling, an agent who opened three customers, and one they did not."""
    breach = record_breach()
    services.decide_customer_notice(breach, required=True, reason="High risk", actor=dpo_actor)
    db.session.commit()
    agent = create_staff_user("agent", password=None)
    opened = [create_customer() for _ in range(3)]
    create_customer()  # never opened: never told
    views_by(agent, *opened)
    return breach, agent, opened


def _ask(db, incident, dpo_actor):
    breach, agent, _ = incident
    now = utcnow()
    run = services.request_notice(db.session, breach, agent.email, now - HOUR, now + HOUR,
                                  actor=dpo_actor)
    db.session.commit()
    return run


def test_asking_records_the_run_and_one_job_and_mails_nobody_yet(db, incident, dpo_actor):
    breach, agent, _ = incident
    run = _ask(db, incident, dpo_actor)

    (job,) = _jobs(db, services.NOTICE_JOB)
    assert job.payload == {"run": str(run.id)}  # the window is in the run, not in the payload
    assert (run.breach_id, str(run.staff_account_id), run.selected, run.finished_at) == (
        breach.id, str(agent.id), None, None)
    assert run.requested_by == str(dpo_actor) and run.until <= utcnow()
    assert _count(db, OutboxMessage) == 0 and _jobs(db, DELIVERY_JOB) == []
    assert _count(db, BreachRecipient) == 0
    entry = db.session.scalar(sa.select(AuditEntry).where(
        AuditEntry.action == actions.BREACH_NOTICE_REQUESTED))
    assert entry.details == {"breach": str(breach.id), "run": str(run.id),
                             "staff_account": str(agent.id)}


@pytest.mark.parametrize(("account", "since", "until", "field"), [
    ("nobody@staff.example", "2026-11-01T00:00", "2026-11-02T00:00", "staff_account"),
    ("AGENT", "2026-11-02T00:00", "2026-11-02T00:00", "until"),
    ("AGENT", "yesterday", "2026-11-02T00:00", "since"),
])
def test_bad_input_asks_nothing(db, incident, dpo_actor, account, since, until, field):
    breach, agent, _ = incident
    with pytest.raises(ValidationFailed) as refused:
        services.request_notice(db.session, breach, agent.email if account == "AGENT" else account,
                                since, until, actor=dpo_actor)
    db.session.rollback()

    assert list(refused.value.errors) == [field]
    assert _count(db, BreachNoticeRun) == 0 and _jobs(db, services.NOTICE_JOB) == []


def test_customers_are_not_mailed_before_the_dpo_decides_they_must_be_told(
        db, record_breach, dpo_actor, create_staff_user):
    breach, agent = record_breach(), create_staff_user("agent", password=None)
    now = utcnow()
    with pytest.raises(services.NoticeNotRequired):
        services.request_notice(db.session, breach, agent.email, now - HOUR, now,
                                actor=dpo_actor)
    db.session.rollback()
    assert _count(db, BreachNoticeRun) == 0 and _jobs(db, services.NOTICE_JOB) == []


def test_the_job_mails_each_selected_customer_once_with_what_article_34_asks(
        db, incident, dpo_actor, publish_policy_files):
    publish_policy_files()
    breach, _, opened = incident
    run = _ask(db, incident, dpo_actor)

    services.run_notice_job(db.session, {"run": str(run.id)})
    db.session.commit()

    letters = queued_mail()
    assert sorted(letter.to for letter in letters) == sorted(c.email for c in opened)
    body = letters[0].body
    assert "A support laptop was stolen" in body and "Phishing mails" in body
    assert "disk is encrypted" in body and "dpo@northwind-goods.example" in body
    db.session.refresh(run)
    db.session.refresh(breach)
    assert (run.selected, run.position, run.mailed, run.already_told, run.unreachable) == (
        3, 3, 3, 0, 0)
    assert run.done and breach.customers_notified == 3 and breach.customers_notified_at
    assert _count(db, BreachRecipient) == 3


def test_a_second_run_or_a_rerun_mails_nobody_twice(db, incident, dpo_actor):
    first = _ask(db, incident, dpo_actor)
    services.run_notice_job(db.session, {"run": str(first.id)})
    db.session.commit()
    again = _ask(db, incident, dpo_actor)

    services.run_notice_job(db.session, {"run": str(again.id)})
    services.run_notice_job(db.session, {"run": str(first.id)})  # a finished run: a no-op
    db.session.commit()

    db.session.refresh(again)
    assert len(queued_mail()) == 3
    assert (again.selected, again.mailed, again.already_told, again.done) == (3, 0, 3, True)


def test_a_long_run_goes_in_committed_batches_and_jobs_that_each_end_in_time(
        db, incident, dpo_actor):
    run = _ask(db, incident, dpo_actor)

    services.run_notice_job(db.session, {"run": str(run.id)}, size=1, batches=2)
    db.session.commit()

    db.session.refresh(run)
    assert (run.selected, run.position, run.mailed, run.done) == (3, 2, 2, False)
    assert len(queued_mail()) == 2
    assert len(_jobs(db, services.NOTICE_JOB)) == 2  # this run's next job is queued

    services.run_notice_job(db.session, {"run": str(run.id)}, size=1, batches=2)
    db.session.commit()
    db.session.refresh(run)
    assert (run.position, run.mailed, run.done) == (3, 3, True)
    assert len(queued_mail()) == 3 and len(_jobs(db, services.NOTICE_JOB)) == 2


def test_a_changed_decision_stops_the_run(db, incident, dpo_actor):
    breach, _, _ = incident
    run = _ask(db, incident, dpo_actor)
    services.decide_customer_notice(breach, required=False, reason="Encrypted after all",
                                    actor=dpo_actor)
    db.session.commit()

    services.run_notice_job(db.session, {"run": str(run.id)})
    db.session.commit()

    db.session.refresh(run)
    assert run.done and run.mailed == 0 and queued_mail() == []
    entry = db.session.scalar(sa.select(AuditEntry).where(
        AuditEntry.action == actions.BREACH_NOTICE_FINISHED))
    assert entry.details["stopped"] is True


def test_audit_entries_hold_ids_and_counts_never_the_registers_text(db, incident, dpo_actor):
    _, _, opened = incident
    run = _ask(db, incident, dpo_actor)
    services.run_notice_job(db.session, {"run": str(run.id)})
    db.session.commit()

    entries = db.session.scalars(sa.select(AuditEntry).where(
        AuditEntry.action.like("breach.%"))).all()
    assert {e.action for e in entries} == {
        actions.BREACH_RECORDED, actions.BREACH_NOTICE_DECIDED, actions.BREACH_NOTICE_REQUESTED,
        actions.BREACH_CUSTOMER_NOTIFIED, actions.BREACH_NOTICE_FINISHED}
    text = repr([(e.details, e.justification, e.fields) for e in entries])
    assert "laptop" not in text and "High risk" not in text
    assert not any(c.email in text for c in opened)
    told = [e for e in entries if e.action == actions.BREACH_CUSTOMER_NOTIFIED]
    assert sorted(e.subject_id for e in told) == sorted(c.id for c in opened)
    (done,) = [e for e in entries if e.action == actions.BREACH_NOTICE_FINISHED]
    assert done.details["mailed"] == 3 and done.details["stopped"] is False


def test_the_worker_mails_them_at_a_real_smtp_server_and_a_killed_worker_is_taken_over(
        app, db, incident, dpo_actor, smtp_server, mail_to):
    controller, inbox = smtp_server
    mail_to(controller.port)
    _, _, opened = incident
    run = _ask(db, incident, dpo_actor)
    # A worker claims the job, commits one batch, and is killed: its lease runs on.
    claim = claim_next(db.session, worker="killed", now=utcnow(), lease=DEFAULT_LEASE)
    db.session.commit()
    assert claim is not None and claim.kind == services.NOTICE_JOB
    services.notice_batch(db.session, run.id, size=1)
    db.session.commit()

    deliver_mail(app)  # the killed worker's lease holds: only its batch's mail goes
    assert inbox.recipients == [opened[0].email]
    deliver_mail(app, clock=lambda: utcnow() + DEFAULT_LEASE + HOUR)  # lease over: taken over
    deliver_mail(app, clock=lambda: utcnow() + DEFAULT_LEASE + 2 * HOUR)  # a rerun: nothing

    assert sorted(inbox.recipients) == sorted(c.email for c in opened)
    message = inbox.to(opened[0].email)[0]
    assert message["Subject"] == "Important: a security incident affecting your data"
    db.session.refresh(run)
    assert (run.selected, run.mailed, run.done) == (3, 3, True)
