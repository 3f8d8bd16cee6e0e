"""GDPR Art. 18 for API clients: a restricted record is neither read nor changed through them."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from consentmgr.apiclients import services
from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from consentmgr.customers.services import restrict_processing
from tests.conftest import TEST_ACTOR


@pytest.fixture
def caller(db):
    client, _ = services.create_client("crm", "customers:read,customers:write", actor=TEST_ACTOR)
    db.session.commit()
    return services.AuthenticatedClient(id=client.id, name=client.name,
                                        key_prefix=client.key_prefix, scopes=frozenset())


@pytest.fixture
def restricted(db, create_customer):
    customer = create_customer()
    restrict_processing(customer, actor=TEST_ACTOR)
    db.session.commit()
    return customer


def _count(db, action: str) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)
                             .where(AuditEntry.action == action))


def test_reading_a_restricted_record_is_refused_and_not_audited(db, caller, restricted):
    with pytest.raises(services.CustomerRestricted) as refused:
        services.read_customer(caller, restricted.id, with_history=False)
    assert refused.value.status == 409 and refused.value.problem == "restricted"
    assert "Art. 18" in str(refused.value)
    assert _count(db, actions.API_CUSTOMER_READ) == 0


def test_correcting_a_restricted_record_is_refused_and_changes_nothing(db, caller, restricted):
    with pytest.raises(services.CustomerRestricted):
        services.correct_customer(caller, restricted, {"name": "Someone Else"})
    db.session.rollback()
    assert restricted.name == "Ada Example"
    assert _count(db, actions.CUSTOMER_RECTIFIED) == 0


def test_an_upsert_that_would_update_a_restricted_record_is_refused(db, caller):
    customer, _ = services.upsert_customer(caller, {"email": "r@example.org", "name": "R"},
                                           external_ref="crm-9")
    restrict_processing(customer, actor=TEST_ACTOR)
    db.session.commit()
    with pytest.raises(services.CustomerRestricted):
        services.upsert_customer(caller, {"email": "r@example.org", "name": "New"},
                                 external_ref="crm-9")
    db.session.rollback()
    assert customer.name == "R"


def test_a_lookup_still_finds_a_restricted_customer_by_id_and_status(db, caller, restricted):
    found = services.lookup_customer(caller, restricted.email)
    assert found is not None and found.id == restricted.id
    assert found.status.value == "restricted"
