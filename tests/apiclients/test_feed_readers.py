"""GDPR Art. 19: how far each client read the change feed, and who was told of a request."""

from __future__ import annotations

import uuid

import pytest

from consentmgr.apiclients import services
from consentmgr.apiclients.models import ApiClient
from consentmgr.audit import actions
from consentmgr.audit import services as audit
from tests.conftest import TEST_ACTOR
from tests.fixtures.audit import sequence_audit


def _client(db, name: str):
    client, _ = services.create_client(name, "events:read", actor=TEST_ACTOR)
    db.session.commit()
    return services.AuthenticatedClient(id=client.id, name=client.name,
                                        key_prefix=client.key_prefix, scopes=frozenset())


def _cursor(db, caller) -> int | None:
    db.session.expire_all()
    return db.session.get(ApiClient, caller.id).feed_cursor


def test_the_feed_cursor_is_recorded_and_only_ever_grows(db):
    caller = _client(db, "crm")
    assert _cursor(db, caller) is None
    services.record_feed_read(caller, 10)
    assert _cursor(db, caller) == 10
    services.record_feed_read(caller, 4)  # an older page re-read, or a slower concurrent poll
    assert _cursor(db, caller) == 10
    services.record_feed_read(caller, 12)
    assert _cursor(db, caller) == 12


def test_clients_past_a_cursor_are_those_served_it_or_later(db):
    crm, shop, mailer = _client(db, "crm"), _client(db, "shop"), _client(db, "mailer")
    services.record_feed_read(crm, 5)
    services.record_feed_read(shop, 9)
    db.session.commit()
    assert [c.name for c in services.clients_past(5)] == ["crm", "shop"]
    assert [c.name for c in services.clients_past(6)] == ["shop"]
    assert mailer.name not in [c.name for c in services.clients_past(1)]


def _completion(db, customer, request_id: uuid.UUID) -> int:
    entry = audit.record(actions.REQUEST_COMPLETED, actor=TEST_ACTOR, subject_id=customer.id,
                         details={"request_id": str(request_id), "type": "erasure",
                                  "status": "completed"})
    sequence_audit(db)
    return entry.sequence


def test_the_completion_cursor_is_that_of_the_requests_own_completed_entry(db, create_customer):
    customer = create_customer()
    mine, other = uuid.uuid4(), uuid.uuid4()
    _completion(db, customer, other)
    sequence = _completion(db, customer, mine)
    assert services.completion_cursor(customer.id, mine) == sequence
    assert services.completion_cursor(customer.id, uuid.uuid4()) is None


def test_only_clients_that_read_past_the_completion_are_notified(db, create_customer):
    customer = create_customer()
    request_id = uuid.uuid4()
    before, after = _client(db, "before"), _client(db, "after")
    sequence = _completion(db, customer, request_id)
    services.record_feed_read(before, sequence - 1)
    services.record_feed_read(after, sequence)
    db.session.commit()
    assert [c.name for c in services.notified_clients(customer.id, request_id)] == ["after"]


@pytest.mark.parametrize("reads", [0, 1000])
def test_nobody_is_notified_of_a_request_that_was_not_completed(db, create_customer, reads):
    customer = create_customer()
    caller = _client(db, "crm")
    if reads:
        services.record_feed_read(caller, reads)
    db.session.commit()
    assert services.notified_clients(customer.id, uuid.uuid4()) == []
