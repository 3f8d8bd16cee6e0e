"""Marketing mail carries the one-click unsubscribe headers (RFC 8058); transactional mail does not.

At a real SMTP server on loopback, through the sealed outbox and the real
worker (``deliver_mail``), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from consentmgr.consent import services as consent
from consentmgr.consent.expiry import send_renewal_reminders
from consentmgr.customers.signin import portal_actor, request_sign_in_link
from consentmgr.mail import OutboxMessage, queued_mail, send_mail_after_commit
from consentmgr.policies.services import publish_policies
from consentmgr.requests import services as requests
from consentmgr.sql import utcnow
from tests.conftest import TEST_ACTOR
from tests.consent.expiring import EXPIRING, TERM, write_expiring_policy
from tests.fixtures.smtp import deliver_mail

HEADERS = ("List-Unsubscribe", "List-Unsubscribe-Post")


@pytest.fixture
def policy(db, tmp_path):
    """A policy whose marketing consent lasts a year."""
    publish_policies(write_expiring_policy(tmp_path / "policies"), actor=TEST_ACTOR)
    db.session.commit()


@pytest.fixture
def customer(db, policy, create_customer):
    """A customer whose consent to marketing mail ends in ten days (a reminder is due)."""
    customer = create_customer()
    consent.grant_consent(customer, EXPIRING, actor=TEST_ACTOR, channel="api",
                          collected_at=utcnow() - TERM + dt.timedelta(days=10))
    db.session.commit()
    return customer


@pytest.fixture
def plain_customer(policy, create_customer):
    """A customer with no consent about to end: the worker has no reminder to send."""
    return create_customer()


def remind(db) -> None:
    send_renewal_reminders(db.session, now=utcnow(), notice=dt.timedelta(days=30),
                           send=send_mail_after_commit)
    db.session.commit()


def test_the_renewal_reminder_carries_the_one_click_unsubscribe_headers(
        app, db, client, inbox, customer):
    remind(db)

    deliver_mail(app)

    (message,) = inbox.to(customer.email)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    header = message["List-Unsubscribe"]
    assert header.startswith("<http://127.0.0.1:5000/unsubscribe/") and header.endswith(">")
    url = header[1:-1]
    assert url in message.get_payload(decode=True).decode()  # and in the body, for people
    # The header's link is the customer's, for this purpose: one click withdraws.
    response = client.post(url[url.index("/unsubscribe/"):],
                           data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert consent.check_consent(customer.id, EXPIRING).status == "withdrawn"


def test_the_headers_are_sealed_with_the_message(app, db, customer):
    remind(db)

    (letter,) = queued_mail()
    (row,) = db.session.scalars(sa.select(OutboxMessage))

    assert set(letter.headers) == set(HEADERS)
    link = letter.headers["List-Unsubscribe"][1:-1]
    token = link.rsplit("/", 1)[1].encode()
    assert b"unsubscribe" not in bytes(row.sealed) and token not in bytes(row.sealed)


def test_a_sign_in_link_carries_no_unsubscribe_headers(app, db, inbox, plain_customer):
    customer = plain_customer
    request_sign_in_link(customer.email)
    db.session.commit()

    deliver_mail(app)

    (message,) = inbox.to(customer.email)
    assert message["Subject"] and not any(message[name] for name in HEADERS)


def test_a_request_notice_carries_no_unsubscribe_headers(app, db, inbox, plain_customer):
    customer = plain_customer
    requests.file_request(customer, "erasure", actor=portal_actor(customer), channel="portal")
    db.session.commit()

    deliver_mail(app)

    (message,) = inbox.to(customer.email)
    assert message["Subject"] == "We have received your request"
    assert not any(message[name] for name in HEADERS)
