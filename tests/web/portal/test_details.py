"""Correcting details and preferences: the schema's rules, inline errors, nothing changed on bad input."""

from __future__ import annotations

import datetime as dt
import html

import pytest
import sqlalchemy as sa

from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from consentmgr.customers.models import Customer
from tests.web.portal.conftest import csrf_from

DETAILS = "/portal/details"


def form_data(**changes):
    """What the form sends when the customer changes nothing but ``changes``."""
    data = {
        "name": "Ada Lovelace",
        "phone": "+44 20 7946 0958",
        "postal_address": "1 Example Street\r\nLondon",  # browsers send CRLF
        "date_of_birth": "1985-04-12",
        "channels": ["email"],
        "language": "en",
        "topics": "garden",
    }
    data.update(changes)
    return data


def submit(client, **changes):
    token = csrf_from(client.get(DETAILS).data)
    return client.post(DETAILS, data={"csrf_token": token, **form_data(**changes)})


def held(db, customer_id) -> dict:
    db.session.expire_all()
    customer = db.session.get(Customer, customer_id)
    return {field: getattr(customer, field) for field in Customer.PERSONAL_FIELDS}


def rectifications(db) -> list[AuditEntry]:
    return list(db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == actions.CUSTOMER_RECTIFIED)))


def test_the_form_is_filled_with_what_we_hold(client, signed_in):
    page = html.unescape(client.get(DETAILS).get_data(as_text=True))

    assert 'value="Ada Lovelace"' in page and 'value="1985-04-12"' in page
    assert "1 Example Street\nLondon</textarea>" in page
    assert 'value="email" checked' in page or 'checked id="channels-0"' in page


def test_a_correction_is_saved_and_the_message_names_the_changed_fields(client, db, signed_in):
    response = submit(client, phone="+49 30 1234567", topics="garden, books")

    assert response.status_code == 302
    page = html.unescape(client.get(response.headers["Location"]).get_data(as_text=True))
    assert "Saved. You changed your phone number and contact preferences." in page
    now = held(db, signed_in.id)
    assert now["phone"] == "+49 30 1234567"
    assert now["preferences"]["topics"] == ["garden", "books"]


def test_a_correction_is_recorded_in_the_audit_trail_by_field_name(client, db, signed_in):
    submit(client, name="Ada King")

    [entry] = rectifications(db)
    assert entry.fields == ["name"] and entry.actor_id == str(signed_in.id)
    assert "Ada King" not in str(entry.as_record())


def test_saving_an_untouched_form_changes_nothing(client, db, signed_in):
    response = submit(client)

    page = html.unescape(client.get(response.headers["Location"]).get_data(as_text=True))
    assert "Nothing changed" in page
    assert rectifications(db) == []


def test_emptying_an_optional_field_removes_it(client, db, signed_in):
    submit(client, phone="")

    assert held(db, signed_in.id)["phone"] is None


@pytest.mark.parametrize(("field", "value", "message"), [
    ("name", "   ", "Enter a name."),
    ("phone", "call me maybe", "Enter a phone number of digits, spaces and dashes"),
    ("date_of_birth", "12/04/1985", "Not a valid date."),
    ("date_of_birth", (dt.date.today() + dt.timedelta(days=1)).isoformat(),
     "Enter a date of birth in the past, after 1900."),
    ("language", "tlh", "Unknown language"),
    ("topics", "x" * 41, "Length must be between 1 and 40."),
])
def test_bad_input_is_shown_again_with_a_message_tied_to_its_input_and_changes_nothing(
        client, db, signed_in, field, value, message):
    before = held(db, signed_in.id)

    response = submit(client, **{"phone": "+49 30 1234567", field: value})

    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 422
    assert message in page
    assert f'id="{field}-error"' in page and 'aria-invalid="true"' in page
    assert f'aria-describedby="{field}-error"' in page or f'{field}-hint {field}-error"' in page
    assert f'<a href="#{field}">' in page  # the summary at the top links to the input
    assert held(db, signed_in.id) == before  # the valid phone change was not applied either
    assert rectifications(db) == []


def test_an_unknown_contact_channel_is_an_error_on_the_checkboxes(client, db, signed_in):
    response = submit(client, channels=["email", "pigeon"])

    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 422
    assert "Unknown channel" in page and '<a href="#channels-0">' in page
    assert 'id="channels-error"' in page


def test_an_email_sent_with_the_details_form_changes_nothing(client, db, signed_in):
    # The address changes only through its own form, confirmed by the new address
    # (tests/web/portal/test_email_change.py).
    response = submit(client, email="mallory@example.org", phone="+49 30 1234567")

    assert response.status_code == 302
    assert held(db, signed_in.id)["email"] == "ada@example.org"
    assert [e.fields for e in rectifications(db)] == [["phone"]]


def test_an_error_page_title_says_there_is_an_error(client, signed_in):
    response = submit(client, name="")

    assert b"<title>Error: Correct my details" in response.data
