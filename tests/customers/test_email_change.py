"""Email changes as a service: what is stored, erasure, races, and who may change directly."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from consentmgr.customers import email_change
from consentmgr.customers import services as customers
from consentmgr.customers.models import PortalEmailChange
from consentmgr.customers.signin import portal_actor
from consentmgr.errors import ValidationFailed
from consentmgr.tokens import token_digest
from consentmgr.unit_of_work import unit_of_work
from tests.conftest import TEST_ACTOR


@pytest.fixture(autouse=True)
def quiet_mail(monkeypatch):
    monkeypatch.setattr(email_change, "send_mail_after_commit", lambda *args, **kwargs: None)


@pytest.fixture
def ada(create_customer):
    return create_customer(email="ada@example.org", name="Ada Lovelace")


def ask(customer, address: str):
    with unit_of_work():
        return email_change.request_email_change(customer, address, actor=portal_actor(customer))


def test_only_the_tokens_digest_and_the_encrypted_address_are_stored(db, ada):
    link = ask(ada, "ada.new@example.org")

    row = db.session.scalar(sa.select(PortalEmailChange))
    raw = db.session.execute(sa.select(PortalEmailChange.__table__)).one()
    assert row.token_hash == token_digest(link.token) and link.token not in repr(raw)
    assert b"ada.new" not in bytes(raw.new_email) and row.new_email == "ada.new@example.org"
    assert (row.expires_at - row.created_at).total_seconds() == 24 * 3600


def test_confirming_keeps_no_address_in_the_row(db, ada):
    link = ask(ada, "ada.new@example.org")

    with unit_of_work():
        email_change.confirm_email_change(link.token)

    raw = db.session.execute(sa.select(PortalEmailChange.__table__)).one()
    assert raw.new_email is None and raw.used_at is not None


def test_erasure_removes_pending_changes(db, ada):
    ask(ada, "ada.new@example.org")

    with unit_of_work():
        customers.erase_customer(customers.get_customer(ada.id), actor=TEST_ACTOR)

    assert db.session.scalar(sa.select(sa.func.count()).select_from(PortalEmailChange)) == 0


def test_an_erased_record_cannot_ask(db, ada):
    with unit_of_work():
        customers.erase_customer(ada, actor=TEST_ACTOR)

    with pytest.raises(customers.CustomerErased):
        ask(customers.get_customer(ada.id), "x@example.org")


def test_a_race_for_the_same_address_ends_in_the_neutral_failure(db, ada, create_customer,
                                                                 monkeypatch):
    # Another customer takes the address between the check and the write:
    # the unique blind index refuses it, and nothing but the failure is kept.
    link = ask(ada, "ada.new@example.org")
    create_customer(email="ada.new@example.org", name="Quick Taker")
    monkeypatch.setattr(email_change, "email_in_use", lambda *args, **kwargs: False)

    with pytest.raises(email_change.EmailChangeAddressTaken), unit_of_work():
        email_change.confirm_email_change(link.token)

    db.session.expire_all()
    assert customers.get_customer(ada.id).email == "ada@example.org"
    [failed] = db.session.scalars(sa.select(AuditEntry).where(
        AuditEntry.action == actions.PORTAL_EMAIL_CHANGE_FAILED))
    assert failed.details == {"reason": "unavailable"} and failed.subject_id == ada.id


def test_the_own_address_however_typed_is_no_change(db, ada):
    with pytest.raises(ValidationFailed) as raised:
        ask(ada, " Ada@EXAMPLE.org")

    assert raised.value.errors == {"email": ["This is already your email address."]}


def test_staff_and_api_rectification_still_change_the_address_directly(db, ada, create_customer):
    create_customer(email="grace@example.org", name="Grace")

    with pytest.raises(ValidationFailed, match="email"), unit_of_work():
        customers.rectify_customer(ada, {"email": "grace@example.org"}, actor=TEST_ACTOR)
    with unit_of_work():
        customers.rectify_customer(customers.get_customer(ada.id),
                                   {"email": "ada.staff@example.org"}, actor=TEST_ACTOR)

    assert customers.find_by_email("ada.staff@example.org").id == ada.id


def test_the_rate_limit_key_is_per_customer_and_not_their_id(db, ada, create_customer):
    other = create_customer(email="bob@example.org", name="Bob")

    key = email_change.rate_limit_key(ada)

    assert key == email_change.rate_limit_key(ada) != email_change.rate_limit_key(other)
    assert key.startswith("portal-email-change:") and str(ada.id) not in key
