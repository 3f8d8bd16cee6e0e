"""Every request and decision is mailed to the customer (GDPR Art. 12(3)-(4), 18(3))."""

from __future__ import annotations

import datetime as dt


from consentmgr.customers import services as customers
from consentmgr.customers.signin import portal_actor
from consentmgr.policies.services import publish_policies
from consentmgr.requests import notices, services
from consentmgr.unit_of_work import unit_of_work
from tests.conftest import SHIPPED_POLICIES_DIR, TEST_ACTOR
from tests.fixtures.smtp import deliver_mail
from tests.requests.conftest import DPO

UTC = dt.timezone.utc


def test_the_acknowledgement_gives_the_due_date(db, customer, me, outbox):
    req = services.file_request(customer, "erasure", actor=me, channel="portal",
                                now=dt.datetime(2026, 3, 31, 9, 0, tzinfo=UTC))
    [(to, subject, body)] = outbox
    assert to == customer.email and subject == "We have received your request"
    assert "We will answer by: 30 April 2026" in body and str(req.id) in body


def test_an_extension_is_told_with_its_reason_and_new_date(db, customer, me, outbox):
    req = services.file_request(customer, "rectification", actor=me, channel="portal",
                                now=dt.datetime(2026, 3, 31, 9, 0, tzinfo=UTC))
    services.extend_request(req, actor=DPO, months=2, reason="We must ask our warehouse",
                            now=dt.datetime(2026, 4, 2, tzinfo=UTC))
    to, subject, body = outbox[-1]
    assert subject == "We need more time for your request"
    assert "30 June 2026" in body and "We must ask our warehouse" in body


def test_a_refusal_gives_the_reason_and_the_right_to_complain_to_the_authority(
        db, customer, me, outbox):
    req = services.file_request(customer, "erasure", actor=me, channel="portal")
    services.refuse_request(req, actor=DPO, reason_code="manifestly-unfounded",
                            explanation="The fifth identical request this month")
    to, subject, body = outbox[-1]
    assert subject == "We cannot act on your request"
    assert "GDPR Art. 12(5)" in body and "The fifth identical request this month" in body
    # The supervisory authority named by the policy in effect (2026-03).
    assert "Berlin Commissioner for Data Protection" in body and "Art. 77" in body


def test_without_a_policy_the_complaint_text_is_still_given(db):
    assert notices.complaint_text() == notices.DEFAULT_COMPLAINT_TEXT


def test_completion_and_withdrawal_are_told(db, customer, me, outbox):
    first = services.file_request(customer, "rectification", actor=me, channel="portal")
    services.withdraw_request(first, actor=me)
    assert outbox[-1][1] == "Your request was withdrawn"
    second = services.file_request(customer, "rectification", actor=me, channel="portal")
    services.complete_request(second, actor=DPO, outcome="rectified")
    assert outbox[-1][1] == "Your request has been answered"
    assert "We have corrected your data." in outbox[-1][2]


def test_a_request_answered_at_once_gets_one_mail(db, customer, me, outbox):
    services.file_request(customer, "restriction", actor=me, channel="portal")
    assert [subject for _, subject, _ in outbox] == ["Your request has been answered"]


def test_mails_carry_no_personal_data_but_the_address(db, create_customer, policies, outbox):
    customer = create_customer(name="Zebedee Uniquename", phone="+49 30 1234567")
    services.file_request(customer, "erasure", actor=portal_actor(customer), channel="portal")
    body = outbox[-1][2]
    assert "Zebedee" not in body and "1234567" not in body


def test_the_erasure_mails_arrive_at_a_real_smtp_server(smtp_app):
    app, inbox = smtp_app
    with app.app_context():
        with unit_of_work():
            publish_policies(SHIPPED_POLICIES_DIR, actor=TEST_ACTOR)
            customer = customers.create_customer(
                {"email": "smtp-erase@example.org", "name": "Mail Reader"}, actor=TEST_ACTOR)
        with unit_of_work():
            req = services.file_request(customer, "erasure", actor=portal_actor(customer),
                                        channel="portal")
        with unit_of_work():
            services.approve_request(services.get_request(req.id), actor=DPO)
    deliver_mail(app)
    subjects = [m["Subject"] for m in inbox.messages]
    assert subjects == ["We have received your request", "Your request has been answered"]
    assert all(m["To"] == "smtp-erase@example.org" for m in inbox.messages)
    assert "We have erased your data." in inbox.messages[1].get_payload()
