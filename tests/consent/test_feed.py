"""The change feed's items: built from audit entries, naming the request a change belongs to."""

from __future__ import annotations

import datetime as dt
import uuid
from types import SimpleNamespace

from consentmgr.audit import actions
from consentmgr.consent.feed import FEED_ACTIONS, feed_item

NOW = dt.datetime(2027, 1, 31, 12, tzinfo=dt.timezone.utc)


def _entry(action: str, details: dict | None = None, sequence: int = 7) -> SimpleNamespace:
    return SimpleNamespace(sequence=sequence, action=action, subject_id=uuid.uuid4(),
                           occurred_at=NOW, details=details)


def test_a_request_transition_carries_the_request_id_type_and_status():
    request_id = str(uuid.uuid4())
    item = feed_item(_entry(actions.REQUEST_COMPLETED,
                            {"request_id": request_id, "type": "erasure", "status": "completed"}))
    assert (item.cursor, item.type) == (7, "request.completed")
    assert (item.request_id, item.request_type, item.status) == (request_id, "erasure", "completed")
    assert item.purpose is None and item.policy_version is None


def test_a_rectification_made_for_a_request_names_that_request():
    request_id = str(uuid.uuid4())
    item = feed_item(_entry(actions.CUSTOMER_RECTIFIED,
                            {"request_id": request_id, "request_type": "rectification"}))
    assert (item.request_id, item.request_type) == (request_id, "rectification")


def test_a_rectification_without_a_request_has_null_request_fields():
    item = feed_item(_entry(actions.CUSTOMER_RECTIFIED, None))
    assert item.type == "customer.rectified"
    assert item.request_id is None and item.request_type is None


def test_a_consent_change_has_null_request_fields_even_with_a_type_in_its_details():
    item = feed_item(_entry(actions.CONSENT_GRANTED, {"purpose": "marketing-email",
                                                     "status": "given", "type": "x"}))
    assert (item.purpose, item.status) == ("marketing-email", "given")
    assert item.request_id is None and item.request_type is None


def test_rectification_restriction_erasure_and_request_transitions_are_feed_actions():
    # GDPR Art. 19: recipients must hear of these.
    assert {actions.CUSTOMER_RECTIFIED, actions.CUSTOMER_RESTRICTED, actions.CUSTOMER_ERASED,
            actions.REQUEST_RECEIVED, actions.REQUEST_COMPLETED,
            actions.REQUEST_REJECTED} <= set(FEED_ACTIONS)
