"""``/unsubscribe/<token>``: the confirmation page, the RFC 8058 one-click POST, bad links."""

from __future__ import annotations

import datetime as dt
import html
import uuid

import pytest
import sqlalchemy as sa

from consentmgr.consent import services
from consentmgr.consent.models import ConsentEvent
from consentmgr.runtime import runtime
from consentmgr.sql import utcnow
from tests.conftest import TEST_ACTOR

PURPOSE = "marketing-email"
TITLE = "Newsletter and offers by email"
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


@pytest.fixture
def customer(db, publish_policy_files, create_customer):
    """A customer who gave consent to marketing mail (the shipped policy in effect)."""
    publish_policy_files()
    customer = create_customer()
    services.grant_consent(customer, PURPOSE, actor=TEST_ACTOR, channel="api")
    db.session.commit()
    return customer


def link_path(app, customer, purpose: str = PURPOSE, **options) -> str:
    url = runtime(app).links.unsubscribe(customer.id, purpose, **options).url
    return url[url.index("/unsubscribe/"):]


def events(db) -> list[ConsentEvent]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(ConsentEvent).order_by(ConsentEvent.occurred_at)))


def status(customer) -> str:
    return services.check_consent(customer.id, PURPOSE).status


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_the_link_opens_a_confirmation_page_that_changes_nothing(app, client, db, customer):
    response = client.get(link_path(app, customer))

    assert response.status_code == 200
    page = text(response)
    assert f"Unsubscribe from “{TITLE}”" in page
    assert '<button type="submit" name="confirm" value="1">Unsubscribe</button>' in page
    assert 'href="/portal/consents"' in page
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "Set-Cookie" not in response.headers
    assert status(customer) == "given" and len(events(db)) == 1


def test_a_one_click_post_withdraws_the_consent_with_channel_email(app, client, db, customer):
    # RFC 8058 §3.2: no cookie, no CSRF token, the body a mail platform sends.
    response = client.post(link_path(app, customer), data=ONE_CLICK)

    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert status(customer) == "withdrawn"
    withdrawal = events(db)[-1]
    assert (withdrawal.action, withdrawal.channel) == ("withdrawn", "email")
    assert withdrawal.note.startswith("One-click unsubscribe (RFC 8058)")


def test_a_one_click_post_as_multipart_form_data_works_too(app, client, customer):
    # RFC 8058 §3.1 allows either encoding of the body.
    response = client.post(link_path(app, customer), data=ONE_CLICK,
                           content_type="multipart/form-data")

    assert response.status_code == 200 and status(customer) == "withdrawn"


def test_a_second_one_click_post_changes_nothing_and_still_answers_200(app, client, db, customer):
    path = link_path(app, customer)

    first = client.post(path, data=ONE_CLICK)
    second = client.post(path, data=ONE_CLICK)

    assert (first.status_code, second.status_code) == (200, 200)
    assert [e.action for e in events(db)] == ["granted", "withdrawn"]


def test_the_page_button_withdraws_and_shows_the_done_page(app, client, db, customer):
    path = link_path(app, customer)
    client.get(path)

    response = client.post(path, data={"confirm": "1"})

    assert response.status_code == 200
    page = text(response)
    assert "You are unsubscribed" in page
    assert f"We have withdrawn your consent to “{TITLE}”" in page
    assert 'href="/portal/consents"' in page
    assert status(customer) == "withdrawn"
    assert events(db)[-1].note == "Unsubscribe link from a mail, confirmed on its page"


def test_after_unsubscribing_the_page_says_there_is_nothing_left_to_do(app, client, customer):
    path = link_path(app, customer)
    client.post(path, data=ONE_CLICK)

    page = text(client.get(path))
    again = text(client.post(path, data={"confirm": "1"}))

    assert "you are already unsubscribed" in page and "<button" not in page
    assert "was already not given, so nothing needed to change" in again


def test_a_post_without_the_one_click_body_changes_nothing(app, client, db, customer):
    response = client.post(link_path(app, customer), data={"List-Unsubscribe": "yes"})

    assert response.status_code == 400
    assert "Nothing was changed" in text(response)
    assert status(customer) == "given" and len(events(db)) == 1


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_tampered_link_is_refused_and_changes_nothing(app, client, db, customer, method):
    path = link_path(app, customer).replace(PURPOSE, "marketing-sms")

    response = getattr(client, method)(path, data=ONE_CLICK if method == "post" else None)

    assert response.status_code == 400
    page = text(response)
    assert "This unsubscribe link is not valid" in page
    assert str(customer.id) not in page
    assert status(customer) == "given" and len(events(db)) == 1


@pytest.mark.parametrize("method", ["get", "post"])
def test_an_expired_link_is_gone_and_changes_nothing(app, client, db, customer, method):
    path = link_path(app, customer, now=utcnow() - dt.timedelta(days=400))

    response = getattr(client, method)(path, data=ONE_CLICK if method == "post" else None)

    assert response.status_code == 410
    assert "This unsubscribe link has expired" in text(response)
    assert status(customer) == "given" and len(events(db)) == 1


def test_a_link_for_a_customer_that_does_not_exist_is_not_found(app, client, customer):
    other = runtime(app).links.unsubscribe_tokens.issue(uuid.UUID(int=7), PURPOSE)[0]

    assert client.post(f"/unsubscribe/{other}", data=ONE_CLICK).status_code == 404
    assert client.get(f"/unsubscribe/{other}").status_code == 404


def test_a_mangled_path_is_a_bad_request_not_a_server_error(client, customer):
    for path in ("/unsubscribe/x", "/unsubscribe/" + "a" * 500, "/unsubscribe/%00%ff"):
        assert client.get(path).status_code == 400
        assert client.post(path, data=ONE_CLICK).status_code == 400


def test_only_this_route_is_exempt_from_csrf(app, client, customer):
    # Every other form still needs its CSRF token: the portal's sign-in form, say.
    refused = client.post("/portal/sign-in", data={"email": "ada@example.org"})
    accepted = client.post(link_path(app, customer), data=ONE_CLICK)

    assert refused.status_code == 400
    assert accepted.status_code == 200
