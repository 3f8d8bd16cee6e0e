"""No personal data in the audit trail: marker values never reach an audit column."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from consentmgr.actors import Actor
from consentmgr.audit import actions
from consentmgr.audit.models import AuditCheckpoint, AuditEntry, AuditHead
from consentmgr.audit.services import InvalidAuditEntry, create_checkpoint, record
from consentmgr.customers import services
from tests.conftest import TEST_ACTOR

AUDIT_TABLES = [AuditEntry.__table__, AuditHead.__table__, AuditCheckpoint.__table__]


def _markers() -> dict[str, str]:
    tag = uuid.uuid4().hex[:10]
    return {
        "email": f"mrk{tag}email@example.org",
        "name": f"MRK{tag}NAME",
        "phone": f"+44 {int(tag, 16) % 10**10:010d}",
        "postal_address": f"MRK{tag}STREET 1",
        "topic": f"mrk{tag}topic",
        "summary": f"MRK{tag}SUMMARY",
        "staff_name": f"MRK{tag}STAFF",
        "client_address": f"198.51.100.{int(tag, 16) % 200 + 10}",
        "date_of_birth": "1971-07-19",
    }


def _use_the_system_as_colleagues_will(db, m: dict[str, str]) -> uuid.UUID:
    customer = services.create_customer({
        "email": m["email"], "name": m["name"], "phone": m["phone"],
        "postal_address": m["postal_address"], "date_of_birth": m["date_of_birth"],
        "preferences": {"channels": ["sms"], "language": "de", "topics": [m["topic"]]},
    }, actor=TEST_ACTOR)
    services.add_history(customer, {
        "occurred_at": "2026-06-01T12:00:00+00:00", "channel": "chat", "kind": "complaint",
        "data_category": "support", "summary": m["summary"], "details": {"note": m["summary"]},
    }, actor=TEST_ACTOR)
    services.rectify_customer(customer, {"name": m["name"] + "X", "email": "x" + m["email"]},
                              actor=TEST_ACTOR)
    agent = Actor("staff", str(uuid.uuid4()), "agent", display_name=m["staff_name"])
    common = {"actor": agent, "subject_id": customer.id, "request_id": "req-0001",
              "client_address": m["client_address"]}
    record(actions.STAFF_SIGN_IN, actor=agent, client_address=m["client_address"])
    record(actions.CUSTOMER_SEARCH, **common, details={"by": "email", "results": 1})
    record(actions.CUSTOMER_VIEW, **common)
    record(actions.CUSTOMER_REVEAL, **common, fields=["phone"], reason_code="support-ticket",
           justification="Ticket 4711: caller passed security questions")
    record(actions.CUSTOMER_REVEAL, **common, fields=["email"], outcome=actions.DENIED)
    record(actions.CONSENT_GRANTED, **common, details={"purpose": "marketing-email",
                                                       "channel": "staff", "policy": "2026-03"})
    record(actions.PORTAL_SIGN_IN, actor=Actor("customer", str(customer.id)),
           client_address=m["client_address"])
    create_checkpoint(actor=Actor("system", "cli:audit checkpoint"))
    db.session.commit()
    return customer.id


def test_no_marker_in_any_audit_column(db):
    m = _markers()
    customer_id = _use_the_system_as_colleagues_will(db, m)
    found, seen = [], []
    for table in AUDIT_TABLES:
        for row in db.session.execute(sa.select(table)):
            text = repr(tuple(row)).lower()
            seen.append(text)
            found += [(table.name, name) for name, value in m.items() if value.lower() in text]
    assert found == []
    # The scan can fail: the entries are there and name the customer by id.
    assert sum(str(customer_id) in text for text in seen) >= 9


@pytest.mark.parametrize(
    "values",
    [
        {"actor": Actor("staff", "mrk.unknown@example.org")},  # a sign-in with an unknown email
        {"fields": ["mrk.value@example.org"]},
        {"details": {"typed_email": "mrk.value@example.org"}},
    ],
    ids=["email-as-actor-id", "email-as-field-name", "email-in-details"],
)
def test_an_email_address_is_refused_wherever_it_is_slipped_in(db, values):
    values = {"actor": Actor("staff", "agent-1", "agent"), **values}
    with pytest.raises(InvalidAuditEntry):
        record(actions.STAFF_SIGN_IN_FAILED, **values)
