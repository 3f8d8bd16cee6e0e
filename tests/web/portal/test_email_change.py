"""Changing the email address in the portal: confirmed by the new address, told to the old.

Issue 12, finding 3: entering another customer's address said so, and the
change applied at once, with no confirmation and no notice.
"""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
import sqlalchemy as sa
import time_machine

from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from consentmgr.customers import email_change, signin
from consentmgr.customers import services as customers
from consentmgr.customers.models import Customer, PortalEmailChange, PortalSignInToken
from consentmgr.extensions import limiter
from consentmgr.unit_of_work import unit_of_work
from tests.conftest import TEST_ACTOR, RequestPerContextClient
from tests.fixtures.smtp import deliver_mail
from tests.web.portal.conftest import csrf_from, post_form

DETAILS = "/portal/details"
CHANGE = "/portal/details/email"
ANSWER = ("We sent a confirmation link to the new address. Your email address changes when "
          "you open it")
_LINK = re.compile(r"http://\S+(/portal/email/confirm/[A-Za-z0-9_-]+)")
_SIGN_IN_LINK = re.compile(r"http://\S+(/portal/sign-in/[A-Za-z0-9_-]+)")


@pytest.fixture
def outbox(monkeypatch):
    """Messages the email-change service hands to the mailer: (to, subject, body)."""
    sent: list[tuple[str, str, str]] = []
    monkeypatch.setattr(email_change, "send_mail_after_commit",
                        lambda to, subject, body: sent.append((to, subject, body)))
    return sent


@pytest.fixture
def grace(create_customer):
    """Another customer, whose address an attacker might try."""
    return create_customer(email="grace@example.org", name="Grace Hopper")


def ask_to_change(client, address: str):
    return post_form(client, DETAILS, action=CHANGE, data={"email": address})


def link_in(body: str) -> str:
    match = _LINK.search(body)
    assert match, body
    return match.group(1)


def mails_to(outbox, address: str) -> list[tuple[str, str]]:
    return [(subject, body) for to, subject, body in outbox if to == address]


def held_email(db, customer_id) -> str:
    db.session.expire_all()
    return db.session.get(Customer, customer_id).email


def page_text(response) -> str:
    # The CSRF token is signed with the time: leave it out of comparisons.
    return re.sub(r'name="csrf_token"[^>]*value="[^"]+"', "", response.get_data(as_text=True))


def entries(db, action: str) -> list[AuditEntry]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)
                                   .order_by(AuditEntry.sequence)))


# ------------------------------------------------------------ asking


def test_the_details_page_has_its_own_form_for_the_email_address(client, signed_in):
    page = client.get(DETAILS).get_data(as_text=True)

    assert f'action="{CHANGE}"' in page and "Change my email address" in page
    assert "We send sign-in links to <strong>ada@example.org</strong>" in page


def test_a_new_address_is_not_changed_at_once(client, db, signed_in, outbox):
    response = ask_to_change(client, "ada.new@example.org")

    assert response.status_code == 302 and response.headers["Location"].endswith(DETAILS)
    assert ANSWER in html.unescape(client.get(DETAILS).get_data(as_text=True))
    assert held_email(db, signed_in.id) == "ada@example.org"


def test_a_link_goes_to_the_new_address_and_a_notice_to_the_old(client, signed_in, outbox):
    ask_to_change(client, "ada.new@example.org")

    [(subject, body)] = mails_to(outbox, "ada.new@example.org")
    assert subject == "Confirm your new email address for the privacy portal"
    assert "/portal/email/confirm/" in body and "24 hours" in body
    [(subject, body)] = mails_to(outbox, "ada@example.org")
    assert subject == "A change of your email address was requested"
    assert "If it was not you" in body
    assert "ada.new@example.org" not in body and "/confirm/" not in body


def test_another_customers_address_gets_the_same_answer_and_changes_nothing(
        client, db, signed_in, grace, outbox):
    free = ask_to_change(client, "ada.new@example.org")
    free_page = client.get(free.headers["Location"])
    taken = ask_to_change(client, "grace@example.org")
    taken_page = client.get(taken.headers["Location"])

    assert free.status_code == taken.status_code == 302
    assert free.headers["Location"] == taken.headers["Location"] and free.data == taken.data
    assert free_page.status_code == taken_page.status_code == 200
    assert page_text(free_page) == page_text(taken_page)
    assert "already uses" not in page_text(taken_page)
    assert held_email(db, signed_in.id) == "ada@example.org"
    assert held_email(db, grace.id) == "grace@example.org"


def test_the_taken_address_gets_a_notice_and_no_link(client, db, signed_in, grace, outbox):
    ask_to_change(client, "grace@example.org")

    [(subject, body)] = mails_to(outbox, "grace@example.org")
    assert subject == "Someone tried to use your email address"
    assert "/confirm/" not in body and "Ada" not in body
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PortalEmailChange)) == 0
    assert len(mails_to(outbox, "ada@example.org")) == 1  # the owner is told either way


@pytest.mark.parametrize(("address", "message"), [
    ("not-an-address", "Not a valid email address."),
    ("", "Not a valid email address."),
    ("  ADA@Example.org ", "This is already your email address."),
])
def test_a_bad_address_is_shown_again_with_an_error_and_nothing_is_sent(
        client, db, signed_in, outbox, address, message):
    response = ask_to_change(client, address)

    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 422
    assert message in page and 'id="email-error"' in page and '<a href="#email">' in page
    assert "<title>Error: " in page
    assert outbox == [] and held_email(db, signed_in.id) == "ada@example.org"


def test_asking_needs_a_signed_in_customer(client, customer, outbox):
    token = csrf_from(client.get("/portal/sign-in").data)

    response = client.post(CHANGE, data={"csrf_token": token, "email": "x@example.org"})

    assert response.status_code == 302 and response.headers["Location"].endswith("/portal/sign-in")
    assert outbox == []


def test_a_request_is_audited_without_the_address(client, db, signed_in, grace, outbox):
    ask_to_change(client, "ada.new@example.org")
    ask_to_change(client, "grace@example.org")

    recorded = entries(db, actions.PORTAL_EMAIL_CHANGE_REQUESTED)
    assert [e.details for e in recorded] == [{"address_in_use": False}, {"address_in_use": True}]
    assert all(e.subject_id == signed_in.id for e in recorded)
    assert "example.org" not in repr([e.as_record() for e in recorded])


# ------------------------------------------------------------ confirming


@pytest.fixture
def mailed_link(client, signed_in, outbox):
    """The confirmation link mailed for ada.new@example.org (its path)."""
    ask_to_change(client, "ada.new@example.org")
    return link_in(mails_to(outbox, "ada.new@example.org")[0][1])


def test_opening_the_link_shows_a_button_and_changes_nothing(client, db, signed_in, mailed_link):
    response = client.get(mailed_link)

    assert response.status_code == 200
    assert b"Confirm my new email address</button>" in response.data
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert held_email(db, signed_in.id) == "ada@example.org"


def test_pressing_the_button_changes_the_address_and_its_lookup(client, db, signed_in,
                                                                 mailed_link):
    response = post_form(client, mailed_link)

    assert response.status_code == 302 and response.headers["Location"].endswith(DETAILS)
    assert "Your email address is changed" in client.get(DETAILS).get_data(as_text=True)
    assert held_email(db, signed_in.id) == "ada.new@example.org"
    assert customers.find_by_email("ADA.NEW@example.org").id == signed_in.id
    assert customers.find_by_email("ada@example.org") is None


def test_the_old_address_is_told_once_the_change_is_made(client, signed_in, mailed_link, outbox):
    post_form(client, mailed_link)

    subjects = [subject for subject, _ in mails_to(outbox, "ada@example.org")]
    assert subjects == ["A change of your email address was requested",
                        "Your email address was changed"]


def test_the_change_is_audited_as_a_rectification_of_the_email(client, db, signed_in, mailed_link):
    post_form(client, mailed_link)

    [entry] = entries(db, actions.CUSTOMER_RECTIFIED)
    assert entry.fields == ["email"] and entry.actor_id == str(signed_in.id)
    assert entry.details == {"confirmed_by": "email-link"}
    assert "example.org" not in repr(entry.as_record())


def test_sign_in_links_go_to_the_new_address_and_old_ones_stop_working(client, db, signed_in,
                                                                      mailed_link):
    old_link = signin.request_sign_in_link("ada@example.org")
    db.session.commit()

    post_form(client, mailed_link)

    assert db.session.scalar(sa.select(PortalSignInToken).where(
        PortalSignInToken.token_hash == signin.token_digest(old_link.token))) is None
    with unit_of_work():
        assert signin.request_sign_in_link("ada@example.org") is None
        assert signin.request_sign_in_link("ada.new@example.org") is not None


def test_the_link_works_from_a_browser_that_is_not_signed_in(app, db, signed_in, mailed_link):
    app.test_client_class = RequestPerContextClient
    other = app.test_client()

    response = post_form(other, mailed_link)

    assert response.status_code == 302 and response.headers["Location"].endswith("/portal/sign-in")
    assert held_email(db, signed_in.id) == "ada.new@example.org"


def test_the_link_works_after_the_session_idled_out(client, db, signed_in, mailed_link):
    with time_machine.travel(dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=20)):
        opened = client.get(mailed_link)
        response = post_form(client, mailed_link)

    assert opened.status_code == 200
    assert response.status_code == 302
    assert held_email(db, signed_in.id) == "ada.new@example.org"


def test_a_link_works_only_once(client, db, signed_in, mailed_link):
    post_form(client, mailed_link)

    again = post_form(client, DETAILS, action=mailed_link)
    opened = client.get(mailed_link)

    assert again.status_code == opened.status_code == 410
    assert "This link was already used" in again.get_data(as_text=True)


def test_an_expired_link_is_refused_and_changes_nothing(client, db, signed_in, mailed_link):
    with time_machine.travel(dt.timedelta(hours=25)):
        response = post_form(client, "/portal/sign-in", action=mailed_link)

    assert response.status_code == 410
    assert "This link has expired" in response.get_data(as_text=True)
    assert held_email(db, signed_in.id) == "ada@example.org"


def test_a_newer_request_replaces_the_older_link(client, db, signed_in, mailed_link, outbox):
    ask_to_change(client, "ada.other@example.org")

    response = post_form(client, DETAILS, action=mailed_link)

    assert response.status_code == 400 and b"This link is not valid" in response.data
    assert held_email(db, signed_in.id) == "ada@example.org"


@pytest.mark.parametrize("token", ["x", "not-a-real-token-but-long-enough-to-look-like-one"])
def test_an_unknown_link_is_not_valid(client, customer, token):
    response = client.get(f"/portal/email/confirm/{token}")

    assert response.status_code == 400 and b"Your email address was not changed" in response.data


def test_an_address_taken_meanwhile_fails_with_a_neutral_page(client, db, signed_in, mailed_link,
                                                              create_customer):
    create_customer(email="ada.new@example.org", name="Someone Else")

    response = post_form(client, DETAILS, action=mailed_link)

    page = response.get_data(as_text=True)
    assert response.status_code == 409 and "We could not change your email address" in page
    assert "another customer" not in page.lower() and "already" not in page.lower()
    assert held_email(db, signed_in.id) == "ada@example.org"


def test_failed_confirmations_are_audited_with_a_reason_and_no_personal_data(
        client, db, signed_in, mailed_link):
    post_form(client, mailed_link)
    post_form(client, DETAILS, action=mailed_link)  # used
    post_form(client, DETAILS, action=mailed_link[:-2] + "zz")  # tampered

    failed = entries(db, actions.PORTAL_EMAIL_CHANGE_FAILED)
    assert [e.details["reason"] for e in failed] == ["used", "invalid"]
    assert failed[0].subject_id == signed_in.id and failed[1].subject_id is None
    assert "example.org" not in repr([e.as_record() for e in failed])


# ------------------------------------------------------------ rate limits


def test_too_many_changes_for_one_customer_get_the_429_page_with_retry_after(
        client, app, signed_in, outbox, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_EMAIL_CHANGE_LIMIT", "2 per hour")
    for number in range(2):
        assert ask_to_change(client, f"ada{number}@example.org").status_code == 302

    response = ask_to_change(client, "ada9@example.org")

    assert response.status_code == 429
    assert "Too many attempts" in response.get_data(as_text=True)
    assert 1 <= int(response.headers["Retry-After"]) <= 3600
    assert len(mails_to(outbox, "ada9@example.org")) == 0


def test_the_customer_limit_counts_per_customer(client, app, signed_in, sign_in, outbox,
                                                create_customer, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_EMAIL_CHANGE_LIMIT", "1 per hour")
    ask_to_change(client, "ada1@example.org")
    sign_in(create_customer(email="bob@example.org", name="Bob"))

    assert ask_to_change(client, "bob1@example.org").status_code == 302


def test_too_many_changes_from_one_client_get_the_429_page(client, app, signed_in, outbox,
                                                           monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_EMAIL_CHANGE_LIMIT_PER_CLIENT", "1 per hour")
    ask_to_change(client, "ada1@example.org")

    response = ask_to_change(client, "ada2@example.org")

    assert response.status_code == 429 and "Retry-After" in response.headers


def test_the_rate_limit_store_never_holds_the_customer_id(client, signed_in, outbox):
    ask_to_change(client, "ada.new@example.org")

    keys = " ".join(str(key) for key in limiter.storage.storage)
    assert "portal-email-change:" in keys and str(signed_in.id) not in keys


# ------------------------------------------------------------ a real SMTP server


def _newest_path(app, inbox, address: str, pattern: re.Pattern, subject: str) -> str | None:
    deliver_mail(app)
    message = inbox.to(address)[-1]
    assert message["Subject"] == subject
    match = pattern.search(message.get_payload(decode=True).decode())
    return match.group(1) if match else None


def test_the_whole_change_through_a_real_mail_server(smtp_app):
    app, inbox = smtp_app
    with app.app_context(), unit_of_work():
        customers.create_customer({"email": "ada@example.org", "name": "Ada"}, actor=TEST_ACTOR)
    client = app.test_client()
    post_form(client, "/portal/sign-in", data={"email": "ada@example.org"})
    sign_in_path = _newest_path(app, inbox, "ada@example.org", _SIGN_IN_LINK,
                                "Your sign-in link for the privacy portal")
    assert post_form(client, sign_in_path).status_code == 302

    post_form(client, DETAILS, action=CHANGE, data={"email": "ada.new@example.org"})
    confirm_path = _newest_path(app, inbox, "ada.new@example.org", _LINK,
                                "Confirm your new email address for the privacy portal")
    _newest_path(app, inbox, "ada@example.org", _LINK,
                 "A change of your email address was requested")
    response = post_form(client, confirm_path)

    assert response.status_code == 302 and response.headers["Location"].endswith(DETAILS)
    _newest_path(app, inbox, "ada@example.org", _LINK, "Your email address was changed")
    with app.app_context():
        assert customers.find_by_email("ada.new@example.org") is not None
        assert customers.find_by_email("ada@example.org") is None
    assert len(inbox.messages) == 4
