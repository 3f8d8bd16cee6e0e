"""Customer services: validation, blind-index lookup, rectification, history."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from consentmgr.audit import actions as audit_actions
from consentmgr.audit.models import AuditEntry
from consentmgr.crypto import DecryptionError
from consentmgr.customers import services
from consentmgr.customers.models import Customer, HistoryEntry
from consentmgr.errors import ValidationFailed
from tests.conftest import TEST_ACTOR

VALID = {"email": "ada@example.org", "name": "Ada Lovelace"}


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"email": "not-an-email"}, "email", "Not a valid email address."),
        ({"email": None}, "email", "Field may not be null."),
        ({"name": "   "}, "name", "Enter a name."),
        ({"phone": "call me maybe"}, "phone", "Enter a phone number"),
        ({"date_of_birth": "2999-01-01"}, "date_of_birth", "in the past"),
        ({"date_of_birth": "31/02/1980"}, "date_of_birth", "Not a valid date."),
        ({"preferences": {"channels": ["pigeon"]}}, "preferences.channels.0", "Unknown channel"),
        ({"preferences": {"language": "klingon"}}, "preferences.language", "Unknown language"),
        ({"favourite_colour": "blue"}, "favourite_colour", "Unknown field."),
    ],
)
def test_invalid_details_are_refused_with_a_message_per_field(db, changes, field, message):
    with pytest.raises(ValidationFailed) as caught:
        services.create_customer({**VALID, **changes}, actor=TEST_ACTOR)
    assert any(message in m for m in caught.value.errors[field])


def test_missing_required_fields_are_named(db):
    with pytest.raises(ValidationFailed) as caught:
        services.create_customer({}, actor=TEST_ACTOR)
    assert set(caught.value.errors) == {"email", "name"}


def test_refused_input_changes_nothing(db):
    with pytest.raises(ValidationFailed):
        services.create_customer({**VALID, "phone": "??"}, actor=TEST_ACTOR)
    db.session.rollback()
    assert db.session.query(Customer).count() == 0


def test_find_by_email_matches_after_normalisation(db, create_customer):
    customer = create_customer(email="Ada.Lovelace@Example.org")
    assert services.find_by_email("  ada.lovelace@EXAMPLE.org ").id == customer.id
    assert services.find_by_email("someone.else@example.org") is None


def test_second_customer_with_the_same_email_is_refused(db, create_customer):
    create_customer(email="ada@example.org")
    with pytest.raises(ValidationFailed) as caught:
        services.create_customer({**VALID, "email": "ADA@example.org"}, actor=TEST_ACTOR)
    assert caught.value.errors["email"] == ["Another customer already uses this email address."]


def test_rectify_changes_only_given_fields_and_reports_them(db, create_customer):
    customer = create_customer(name="Ada Example", phone="+44 1234 567890")
    changed = services.rectify_customer(
        customer, {"name": "Ada King", "phone": "+44 1234 567890"}, actor=TEST_ACTOR
    )
    db.session.commit()
    assert changed == ["name"]
    assert services.get_customer(customer.id).name == "Ada King"


def test_rectified_email_is_found_by_the_new_address_only(db, create_customer):
    customer = create_customer(email="old@example.org")
    services.rectify_customer(customer, {"email": "new@example.org"}, actor=TEST_ACTOR)
    db.session.commit()
    assert services.find_by_email("new@example.org").id == customer.id
    assert services.find_by_email("old@example.org") is None


def test_history_is_returned_newest_first(db, create_customer):
    customer = create_customer()
    for day in ("2026-01-01", "2026-03-01", "2026-02-01"):
        services.add_history(customer, {
            "occurred_at": f"{day}T09:00:00+00:00", "channel": "web", "kind": "purchase",
            "data_category": "orders", "summary": f"Order on {day}",
        }, actor=TEST_ACTOR)
    customer_id = customer.id
    db.session.commit()
    db.session.expunge_all()
    loaded = services.get_customer(customer_id, with_history=True)
    assert [h.summary for h in loaded.history] == ["Order on 2026-03-01", "Order on 2026-02-01", "Order on 2026-01-01"]


def test_invalid_history_entry_is_refused(db, create_customer):
    customer = create_customer()
    with pytest.raises(ValidationFailed) as caught:
        services.add_history(customer, {"channel": "telepathy", "kind": "purchase"}, actor=TEST_ACTOR)
    assert {"channel", "occurred_at", "summary", "data_category"} <= set(caught.value.errors)


@pytest.mark.parametrize("bad_id", ["not-a-uuid", str(uuid.uuid4())])
def test_unknown_customer_id_is_not_found(db, bad_id):
    with pytest.raises(services.CustomerNotFound):
        services.get_customer(bad_id)


def test_erasure_destroys_the_key_so_even_a_backup_cannot_be_read(db, create_customer):
    customer = create_customer(name="Erase Me")
    services.add_history(customer, {
        "occurred_at": "2026-01-01T09:00:00+00:00", "channel": "web", "kind": "purchase",
        "data_category": "orders", "summary": "Order",
    }, actor=TEST_ACTOR)
    customer_id = customer.id
    db.session.commit()
    # A "backup": the raw ciphertext as it was before erasure.
    backup = db.session.scalar(sa.select(Customer._name).where(Customer.id == customer_id))

    assert services.erase_customer(customer, actor=TEST_ACTOR) == 1
    db.session.commit()
    db.session.expunge_all()

    erased = services.get_customer(customer_id)
    assert erased.status == "erased" and erased.name is None and erased.email_index is None
    assert db.session.scalar(sa.select(HistoryEntry._summary)) is None
    # Restore the old ciphertext as if from a backup: the key is gone.
    db.session.execute(sa.update(Customer).where(Customer.id == customer_id).values(_name=backup))
    db.session.commit()
    db.session.expunge_all()
    with pytest.raises(DecryptionError, match="destroyed"):
        services.get_customer(customer_id).name


def test_restriction_is_audited_and_can_be_lifted(db, create_customer):
    customer = create_customer()
    services.restrict_processing(customer, actor=TEST_ACTOR)
    services.lift_restriction(customer, actor=TEST_ACTOR)
    db.session.commit()
    actions = [e.action for e in db.session.query(AuditEntry).order_by(AuditEntry.sequence)]
    assert actions[-2:] == [audit_actions.CUSTOMER_RESTRICTED, audit_actions.CUSTOMER_UNRESTRICTED]
    assert customer.status == "active"


def test_erasure_purges_the_portal_sign_in_tokens(db, create_customer):
    from consentmgr.customers.models import PortalSignInToken
    from consentmgr.customers.signin import request_sign_in_link

    customer = create_customer(email="tokens@example.org")
    request_sign_in_link("tokens@example.org")
    db.session.commit()
    services.erase_customer(customer, actor=TEST_ACTOR)
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PortalSignInToken)) == 0


def _history(customer, category: str, summary: str) -> HistoryEntry:
    return services.add_history(customer, {
        "occurred_at": "2026-06-01T12:00:00+00:00", "channel": "web", "kind": "purchase",
        "data_category": category, "summary": summary}, actor=TEST_ACTOR)


def test_partial_erasure_keeps_only_the_named_history_and_restricts_the_record(db, create_customer):
    import datetime as dt

    customer = create_customer(email="partial@example.org")
    invoice = _history(customer, "order-history", "Invoice 1")
    chat = _history(customer, "support-history", "Chat 1")
    until = dt.datetime(2037, 1, 1, tzinfo=dt.timezone.utc)
    assert services.erase_customer_except(customer, [invoice.id], actor=TEST_ACTOR,
                                          retained_until=until) == 1
    db.session.commit()
    customer = services.get_customer(customer.id)
    assert customer.status == "restricted" and customer.retained_until == until
    assert customer.email is None and customer.email_index is None
    assert services.find_by_email("partial@example.org") is None
    assert db.session.get(HistoryEntry, invoice.id).summary == "Invoice 1"
    assert db.session.get(HistoryEntry, chat.id).summary is None
    actions_recorded = list(db.session.scalars(sa.select(AuditEntry.action).where(
        AuditEntry.subject_id == customer.id).order_by(AuditEntry.sequence)))[-2:]
    assert actions_recorded == [audit_actions.CUSTOMER_ERASED, audit_actions.CUSTOMER_RESTRICTED]


def test_a_record_kept_for_a_legal_obligation_stays_restricted(db, create_customer):
    import datetime as dt

    customer = create_customer()
    invoice = _history(customer, "order-history", "Invoice 2")
    services.erase_customer_except(customer, [invoice.id], actor=TEST_ACTOR,
                                   retained_until=dt.datetime(2037, 1, 1, tzinfo=dt.timezone.utc))
    with pytest.raises(services.RetainedByLaw) as caught:
        services.lift_restriction(customer, actor=TEST_ACTOR)
    assert caught.value.status == 409 and customer.status == "restricted"


def test_finishing_a_partial_erasure_destroys_the_key(db, create_customer):
    import datetime as dt

    customer = create_customer()
    invoice = _history(customer, "order-history", "Invoice 3")
    services.erase_customer_except(customer, [invoice.id], actor=TEST_ACTOR,
                                   retained_until=dt.datetime(2037, 1, 1, tzinfo=dt.timezone.utc))
    assert services.erase_customer(customer, actor=TEST_ACTOR) == 1
    db.session.commit()
    assert services.get_customer(customer.id).status == "erased"
    assert db.session.get(HistoryEntry, invoice.id).summary is None
