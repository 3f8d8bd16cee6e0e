"""Legal holds (GDPR Art. 17(3)): placed with a coded exception, lifted, audited."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from consentmgr.customers import services as customers
from consentmgr.errors import ValidationFailed
from consentmgr.requests import services
from tests.conftest import TEST_ACTOR
from tests.requests.conftest import DPO


def test_a_hold_is_placed_with_its_exception_and_an_encrypted_note(db, customer):
    hold = services.place_legal_hold(customer, actor=DPO, exception="legal-obligation",
                                     note="Tax audit 2026 announced")
    db.session.commit()
    assert services.active_holds(customer) == [hold]
    assert hold.placed_by == str(DPO) and hold.note == "Tax audit 2026 announced"
    raw = db.session.execute(sa.text("SELECT note FROM legal_holds")).scalar_one()
    assert b"Tax audit" not in bytes(raw)
    [entry] = db.session.scalars(sa.select(AuditEntry).where(
        AuditEntry.action == actions.LEGAL_HOLD_PLACED))
    assert entry.details == {"hold_id": str(hold.id), "exception": "legal-obligation"}


@pytest.mark.parametrize("exception", ["other", "manifestly-unfounded", "because", None])
def test_a_hold_names_an_article_17_3_exception(db, customer, exception):
    with pytest.raises(ValidationFailed) as caught:
        services.place_legal_hold(customer, actor=DPO, exception=exception)
    assert set(caught.value.errors) == {"exception"}


def test_a_lifted_hold_no_longer_applies_and_cannot_be_lifted_again(db, customer):
    hold = services.place_legal_hold(customer, actor=DPO, exception="legal-claims")
    services.lift_legal_hold(hold, actor=DPO)
    assert services.active_holds(customer) == [] and services.holds_of(customer) == [hold]
    assert hold.lifted_by == str(DPO)
    with pytest.raises(services.HoldAlreadyLifted):
        services.lift_legal_hold(hold, actor=DPO)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(
        AuditEntry.action == actions.LEGAL_HOLD_LIFTED)) == 1


def test_no_hold_on_an_erased_customer(db, customer):
    customers.erase_customer(customer, actor=TEST_ACTOR)
    with pytest.raises(services.CustomerErased):
        services.place_legal_hold(customer, actor=DPO, exception="legal-claims")


def test_get_legal_hold_answers_not_found_for_unknown_ids(db):
    for bad in (uuid.uuid4(), "nope"):
        with pytest.raises(services.LegalHoldNotFound):
            services.get_legal_hold(bad)


def test_an_erasure_filed_after_the_hold_is_lifted_goes_ahead(db, customer, me, outbox):
    hold = services.place_legal_hold(customer, actor=DPO, exception="legal-claims")
    services.lift_legal_hold(hold, actor=DPO)
    req = services.file_request(customer, "erasure", actor=me, channel="portal")
    services.approve_request(req, actor=DPO)
    assert req.outcome == "erased"
