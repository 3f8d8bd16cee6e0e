"""The breach register's pages: record, the countdown, bad input, selecting and mailing customers."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from consentmgr.breaches import services
from consentmgr.breaches.models import Breach, BreachNoticeRun
from consentmgr.jobs.models import Job
from consentmgr.mail import DELIVERY_JOB, queued_mail
from consentmgr.sql import utcnow
from consentmgr.staff.access import view_customer
from consentmgr.staff.accounts import get_staff, staff_actor
from tests.fixtures.smtp import deliver_mail
from tests.fixtures.staff import create_staff_user, csrf_token, sign_in_as  # noqa: F401

REGISTER = "/staff/breaches"


def _when(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


def _form(**overrides) -> dict[str, str]:
    data = {"discovered_at": _when(utcnow() - dt.timedelta(hours=2)),
            "description": "Mail server misconfigured", "data_categories": "Email addresses",
            "approx_people": "40", "consequences": "Spam", "measures": "Fixed the relay"}
    data.update(overrides)
    return data


def _breaches(db) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Breach))


def _runs(db) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(BreachNoticeRun))


def _jobs(db) -> list[str]:
    return list(db.session.scalars(sa.select(Job.kind).where(Job.kind != DELIVERY_JOB)))


def test_a_recorded_breach_shows_its_72_hour_countdown(client, db, dpo):
    response = client.post(REGISTER, data={"csrf_token": csrf_token(client), **_form()})
    assert response.status_code == 302

    page = client.get(response.location).get_data(as_text=True)
    assert re.search(r"69 h 5\d min left", page)
    assert "Mail server misconfigured" in page


@pytest.mark.parametrize(("field", "value", "message"), [
    ("discovered_at", "28.11.2026 10:00", "Enter a date and time"),
    ("discovered_at", _when(utcnow() + dt.timedelta(days=2)), "cannot be in the future"),
    ("approx_people", "lots", "whole number"),
    ("description", "", "This is required."),
])
def test_bad_input_is_a_form_error_and_nothing_is_saved(client, db, dpo, field, value, message):
    response = client.post(REGISTER, data={"csrf_token": csrf_token(client),
                                           **_form(**{field: value})})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page and f'id="{field}-error"' in page
    assert _breaches(db) == 0


def test_an_overdue_breach_is_flagged_on_the_register_and_the_home_page(client, db, dpo):
    services.record_breach({**_form(), "discovered_at": utcnow() - dt.timedelta(hours=75)},
                           actor=staff_actor(get_staff(dpo.id)))
    db.session.commit()

    register = client.get(REGISTER).get_data(as_text=True)
    home = client.get("/staff/").get_data(as_text=True)
    assert "Overdue by 3 h" in register and "urgency-overdue" in register
    assert "Overdue by 3 h" in home and "Open breaches" in home


def _breach_needing_notice(db, dpo) -> Breach:
    actor = staff_actor(get_staff(dpo.id))
    breach = services.record_breach(_form(), actor=actor)
    services.decide_customer_notice(breach, required=True, reason="High risk", actor=actor)
    db.session.commit()
    return breach


def test_the_dpo_previews_then_the_worker_mails_the_customers_a_staff_account_opened(
        app, client, db, dpo, create_staff_user, create_customer, smtp_server, mail_to):
    controller, inbox = smtp_server
    mail_to(controller.port)
    agent = create_staff_user("agent", password=None)
    opened = create_customer()
    create_customer()  # never opened by the agent: not mailed
    view_customer(opened.id, actor=staff_actor(get_staff(agent.id)))
    breach = _breach_needing_notice(db, dpo)
    path = f"{REGISTER}/{breach.id}/notify"
    window = {"notify-staff_account": agent.email,
              "notify-since": _when(utcnow() - dt.timedelta(hours=1)),
              "notify-until": _when(utcnow() + dt.timedelta(hours=1))}

    preview = client.post(path, data={"csrf_token": csrf_token(client), **window})
    assert preview.status_code == 200
    assert "1 customer found in this window" in preview.get_data(as_text=True)
    assert _runs(db) == 0

    sent = client.post(path, data={"csrf_token": csrf_token(client), **window,
                                   "notify-confirm": "yes"})
    assert sent.status_code == 302
    # The request only asked: one job, no mail composed or queued, nobody told yet.
    assert queued_mail() == [] and _runs(db) == 1
    assert _jobs(db) == [services.NOTICE_JOB]
    waiting = client.get(sent.location).get_data(as_text=True)
    assert "waiting for the worker" in waiting

    deliver_mail(app)
    deliver_mail(app)  # a second worker pass mails nobody twice

    assert inbox.recipients == [opened.email]
    page = client.get(sent.location).get_data(as_text=True)
    assert "1 of 1 selected" in page and ">done<" in page


def test_a_run_in_progress_shows_how_far_it_got(client, db, dpo, create_staff_user,
                                                 create_customer):
    agent = create_staff_user("agent", password=None)
    customers = [create_customer() for _ in range(2)]
    for customer in customers:
        view_customer(customer.id, actor=staff_actor(get_staff(agent.id)))
    breach = _breach_needing_notice(db, dpo)
    now = utcnow()
    run = services.request_notice(db.session, breach, agent.email, now - dt.timedelta(hours=1),
                                  now, actor=staff_actor(get_staff(dpo.id)))
    db.session.commit()
    services.notice_batch(db.session, run.id, size=1)
    db.session.commit()

    page = client.get(f"{REGISTER}/{breach.id}").get_data(as_text=True)
    assert "1 of 2 selected" in page and "in progress" in page


@pytest.mark.parametrize(("overrides", "message"), [
    ({"notify-staff_account": "ghost@staff.example"}, "No staff account has this email"),
    ({"notify-until": "SINCE"}, "must be after its start"),
    ({"notify-since": "last week"}, "Enter a date and time"),
])
def test_an_unknown_account_or_an_empty_window_is_a_form_error(
        client, db, dpo, create_staff_user, overrides, message):
    agent = create_staff_user("agent", password=None)
    breach = _breach_needing_notice(db, dpo)
    since = _when(utcnow() - dt.timedelta(hours=1))
    data = {"notify-staff_account": agent.email, "notify-since": since,
            "notify-until": _when(utcnow()), "notify-confirm": "yes", **overrides}
    if data["notify-until"] == "SINCE":
        data["notify-until"] = since

    response = client.post(f"{REGISTER}/{breach.id}/notify",
                           data={"csrf_token": csrf_token(client), **data})

    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert queued_mail() == [] and _runs(db) == 0 and _jobs(db) == []


def test_the_authority_notification_and_the_decision_are_recorded(client, db, dpo):
    breach = services.record_breach(_form(), actor=staff_actor(get_staff(dpo.id)))
    db.session.commit()
    base = f"{REGISTER}/{breach.id}"

    bad = client.post(f"{base}/authority", data={
        "csrf_token": csrf_token(client), "authority-notified_at": _when(utcnow() - dt.timedelta(
            days=1)), "authority-reference": "case 9"})
    ok = client.post(f"{base}/authority", data={
        "csrf_token": csrf_token(client), "authority-notified_at": _when(utcnow()),
        "authority-reference": "case 9"})
    undecided = client.post(f"{base}/decision", data={"csrf_token": csrf_token(client),
                                                      "decision-reason": "Why"})
    decided = client.post(f"{base}/decision", data={
        "csrf_token": csrf_token(client), "decision-required": "no",
        "decision-reason": "Encrypted: no high risk"})

    assert (bad.status_code, ok.status_code, undecided.status_code, decided.status_code) == (
        422, 302, 422, 302)
    page = client.get(base).get_data(as_text=True)
    assert "Notified in time" in page and "Encrypted: no high risk" in page
    assert "Tell the customers affected" not in page
