"""The consent ledger: events, state, the check, renewal, GPC, objection."""

from __future__ import annotations

import ast
import random
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

import consentmgr.consent as consent_package
from consentmgr.audit import actions
from consentmgr.audit.services import verify_chain
from consentmgr.consent import services
from consentmgr.consent.ledger import AUDIT_ACTIONS
from consentmgr.consent.models import (
    ConsentAction,
    ConsentEvent,
    ConsentState,
    LedgerIsAppendOnly,
)
from consentmgr.consent.services import ConsentNotApplicable, Evidence, UnknownPurpose
from consentmgr.customers.services import CustomerNotFound
from consentmgr.errors import ValidationFailed
from tests.conftest import postgresql_only
from tests.consent.conftest import CUSTOMER_ACTOR
from tests.fixtures.audit import sequence_audit

PORTAL = {"actor": CUSTOMER_ACTOR, "channel": "portal"}


def test_every_consent_purpose_starts_not_given(db, policies, create_customer):
    customer = create_customer()
    decision = services.check_consent(customer.id, "marketing-email")
    assert (decision.allowed, decision.status, decision.reason) == (False, "not-given", "not-given")
    assert decision.policy_version == "2026-03"


def test_granted_consent_is_allowed_and_withdrawal_stops_it(db, policies, create_customer):
    customer = create_customer()
    services.grant_consent(customer, "marketing-email", **PORTAL)
    db.session.commit()
    assert services.check_consent(customer.id, "marketing-email").allowed is True
    services.withdraw_consent(customer, "marketing-email", **PORTAL)
    db.session.commit()
    decision = services.check_consent(customer.id, "marketing-email")
    assert (decision.allowed, decision.reason) == (False, "withdrawn")


def test_event_records_version_notice_hash_channel_actor_and_evidence(db, policies, create_customer):
    from consentmgr.policies.services import get_purpose

    customer = create_customer()
    event = services.grant_consent(
        customer, "personalisation", actor=CUSTOMER_ACTOR, channel="staff",
        evidence=Evidence(client_address="203.0.113.9", user_agent="Firefox", note="Phone call, ticket 4711"),
    )
    db.session.commit()
    stored = db.session.get(ConsentEvent, event.id)
    assert stored.policy_version == "2026-03"
    assert stored.notice_hash == get_purpose("2026-03", "personalisation").notice_hash
    assert (stored.channel, stored.actor_type, stored.actor_id) == ("staff", "customer", "self")
    assert stored.note == "Phone call, ticket 4711"
    assert "203.0.113.9" not in str(stored.evidence) and stored.evidence["client_hash"]
    raw_note = db.session.execute(sa.text("SELECT note FROM consent_events")).scalar()
    assert b"4711" not in bytes(raw_note)


def test_state_always_equals_the_last_event_per_purpose(db, policies, create_customer):
    customer = create_customer()
    rng = random.Random(7)
    purposes = ["marketing-email", "marketing-sms", "personalisation", "third-party-sharing"]
    for _ in range(40):
        purpose = rng.choice(purposes)
        action = rng.choice([services.grant_consent, services.withdraw_consent])
        action(customer, purpose, **PORTAL)
    db.session.commit()
    for purpose in purposes:
        last = db.session.scalars(
            sa.select(ConsentEvent).where(ConsentEvent.customer_id == customer.id,
                                          ConsentEvent.purpose == purpose)
            .order_by(ConsentEvent.audit_entry_id.desc())).first()
        state = db.session.get(ConsentState, (customer.id, purpose))
        if last is None:
            assert state is None
        else:
            assert (state.status, state.event_id) == (last.status, last.id)


def test_material_policy_change_requires_renewal_only_for_that_purpose(db, publish, create_customer):
    publish("2025-01.md")
    customer = create_customer()
    services.grant_consent(customer, "personalisation", **PORTAL)
    services.grant_consent(customer, "marketing-email", **PORTAL)
    db.session.commit()
    assert services.check_consent(customer.id, "personalisation").allowed

    publish("2025-01.md", "2026-03.md")  # 2026-03 materially changes personalisation

    renewal = services.check_consent(customer.id, "personalisation")
    assert (renewal.allowed, renewal.status, renewal.reason) == (False, "renewal-required", "renewal-required")
    assert services.check_consent(customer.id, "marketing-email").allowed is True
    services.grant_consent(customer, "personalisation", **PORTAL)
    db.session.commit()
    assert services.check_consent(customer.id, "personalisation").allowed is True


def test_contract_purposes_need_no_consent_and_cannot_be_toggled(db, policies, create_customer):
    customer = create_customer()
    decision = services.check_consent(customer.id, "order-fulfilment")
    assert (decision.allowed, decision.status, decision.reason) == (True, "not-required", "contract")
    with pytest.raises(ConsentNotApplicable, match="not consent"):
        services.grant_consent(customer, "order-fulfilment", **PORTAL)


def test_objection_stops_a_legitimate_interest_purpose_at_once(db, policies, create_customer):
    customer = create_customer()
    assert services.check_consent(customer.id, "analytics").allowed is True
    services.object_to_processing(customer, "analytics", **PORTAL)
    db.session.commit()
    decision = services.check_consent(customer.id, "analytics")
    assert (decision.allowed, decision.reason) == (False, "objected")


def test_objecting_to_a_consent_purpose_is_refused(db, policies, create_customer):
    customer = create_customer()
    with pytest.raises(ConsentNotApplicable):
        services.object_to_processing(customer, "marketing-email", **PORTAL)


def test_restricted_customer_is_never_allowed(db, policies, create_customer):
    from consentmgr.customers.models import CustomerStatus

    customer = create_customer()
    services.grant_consent(customer, "marketing-email", **PORTAL)
    customer.status = CustomerStatus.RESTRICTED
    db.session.commit()
    decision = services.check_consent(customer.id, "marketing-email")
    assert (decision.allowed, decision.reason) == (False, "restricted")


def test_gpc_opt_out_is_recorded_once_for_every_sale_or_share_purpose(db, policies, create_customer):
    customer = create_customer()
    services.grant_consent(customer, "third-party-sharing", **PORTAL)
    first = services.honour_gpc(customer, actor=CUSTOMER_ACTOR)
    second = services.honour_gpc(customer, actor=CUSTOMER_ACTOR)
    db.session.commit()
    assert [(e.purpose, e.action, e.gpc, e.channel) for e in first] == [
        ("third-party-sharing", "withdrawn", True, "portal")]
    assert second == []
    assert services.check_consent(customer.id, "third-party-sharing").reason == "withdrawn"
    assert services.gpc_honoured(customer)


def test_unknown_purpose_and_customer_are_not_found(db, policies, create_customer):
    customer = create_customer()
    with pytest.raises(UnknownPurpose):
        services.check_consent(customer.id, "mind-reading")
    with pytest.raises(CustomerNotFound):
        services.check_consent(uuid.uuid4(), "marketing-email")
    with pytest.raises(CustomerNotFound):
        services.check_consent("not-a-uuid", "marketing-email")


def test_a_notice_that_does_not_match_the_version_is_refused(db, policies, create_customer):
    customer = create_customer()
    with pytest.raises(ValidationFailed) as caught:
        services.grant_consent(customer, "marketing-email", actor=CUSTOMER_ACTOR, channel="api",
                               policy_version="2026-03", notice_hash="0" * 64)
    assert "notice_hash" in caught.value.errors
    with pytest.raises(ValidationFailed) as caught:
        services.grant_consent(customer, "marketing-email", actor=CUSTOMER_ACTOR, channel="api",
                               policy_version="1999-01")
    assert "policy_version" in caught.value.errors


def test_check_many_answers_each_pair_in_order(db, policies, create_customer):
    a, b = create_customer(), create_customer()
    services.grant_consent(a, "marketing-email", **PORTAL)
    db.session.commit()
    results = services.check_many([(a.id, "marketing-email"), (b.id, "marketing-email"),
                                   (uuid.uuid4(), "marketing-email"), (a.id, "nope")])
    assert [getattr(r, "allowed", None) for r in results[:2]] == [True, False]
    assert isinstance(results[2], CustomerNotFound) and isinstance(results[3], UnknownPurpose)


def test_events_are_append_only(db, policies, create_customer):
    customer = create_customer()
    event = services.grant_consent(customer, "marketing-email", **PORTAL)
    db.session.commit()
    event.purpose = "marketing-sms"
    with pytest.raises(LedgerIsAppendOnly):
        db.session.commit()
    db.session.rollback()


@postgresql_only
def test_database_refuses_to_rewrite_history_on_postgresql(db, policies, create_customer):
    """A trigger guards the ledger below the ORM (on SQLite the ORM guard above does)."""
    customer = create_customer()
    services.grant_consent(customer, "marketing-email", **PORTAL)
    db.session.commit()
    with pytest.raises(sa.exc.DatabaseError, match="append-only"):
        db.session.execute(sa.text("UPDATE consent_events SET purpose = 'x'"))
    db.session.rollback()
    with pytest.raises(sa.exc.DatabaseError, match="append-only"):
        db.session.execute(sa.text("DELETE FROM consent_events"))
    db.session.rollback()
    assert db.session.scalar(sa.select(ConsentEvent.purpose)) == "marketing-email"


def test_every_change_is_audited_and_the_feed_orders_them(db, policies, create_customer):
    customer = create_customer()
    services.grant_consent(customer, "marketing-email", **PORTAL)
    services.withdraw_consent(customer, "marketing-email", **PORTAL)
    services.object_to_processing(customer, "analytics", **PORTAL)
    sequence_audit(db)
    feed = services.change_feed(after=0)
    assert [(f.type, f.purpose, f.status) for f in feed] == [
        ("consent.granted", "marketing-email", "given"),
        ("consent.withdrawn", "marketing-email", "withdrawn"),
        ("consent.objected", "analytics", "objected"),
    ]
    assert all(f.customer_id == customer.id for f in feed)
    assert services.change_feed(after=feed[1].cursor) == feed[2:]
    assert verify_chain().ok


def test_erasure_and_restriction_appear_in_the_feed_and_stop_every_use(db, policies, create_customer):
    from consentmgr.customers.services import erase_customer, restrict_processing

    kept, gone = create_customer(), create_customer()
    services.grant_consent(gone, "marketing-email", **PORTAL)
    restrict_processing(kept, actor=CUSTOMER_ACTOR)
    erase_customer(gone, actor=CUSTOMER_ACTOR)
    sequence_audit(db)
    assert services.check_consent(gone.id, "marketing-email").reason == "erased"
    assert services.check_consent(kept.id, "analytics").reason == "restricted"
    assert [f.type for f in services.change_feed()] == [
        "consent.granted", "customer.restricted", "customer.erased"]


def test_every_ledger_action_is_recorded_under_its_audit_constant(db, policies, create_customer):
    assert set(AUDIT_ACTIONS) == set(ConsentAction)
    assert set(AUDIT_ACTIONS.values()) <= set(actions.FEED_ACTIONS)
    customer = create_customer()
    refused = services.honour_gpc(customer, actor=CUSTOMER_ACTOR)  # nothing given: a refusal
    sequence_audit(db)
    assert [e.action for e in refused] == [ConsentAction.REFUSED]
    assert services.change_feed()[-1].type == actions.CONSENT_REFUSED


def test_the_consent_area_reads_the_trail_only_through_the_audit_services():
    package = Path(consent_package.__file__).parent
    used = set()
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("consentmgr.audit"):
                used |= {f"{node.module}:{alias.name}" for alias in node.names}
            elif isinstance(node, ast.Import):
                used |= {alias.name for alias in node.names
                         if alias.name.startswith("consentmgr.audit")}
    assert "consentmgr.audit:services" in used
    assert {name for name in used if not name.startswith("consentmgr.audit.actions:")} == {
        "consentmgr.audit:services", "consentmgr.audit:actions"}


def test_a_choice_subject_is_read_without_loading_the_customer_row(db, create_customer):
    from consentmgr.customers.models import Customer, CustomerStatus

    customer_id = create_customer().id
    db.session.expunge_all()
    subject = services.choice_subject(str(customer_id))
    assert (subject.id, subject.status) == (customer_id, CustomerStatus.ACTIVE)
    assert not any(isinstance(row, Customer) for row in db.session.identity_map.values())


@pytest.mark.parametrize("ident", ["not-an-id", "00000000-0000-4000-8000-000000000000"])
def test_a_choice_subject_that_does_not_exist_is_not_found(db, ident):
    with pytest.raises(CustomerNotFound):
        services.choice_subject(ident)


def test_a_choice_recorded_for_a_subject_changes_the_state_like_one_for_the_customer(
        db, policies, create_customer):
    customer_id = create_customer().id
    db.session.expunge_all()
    event = services.grant_consent(services.choice_subject(customer_id), "marketing-email", **PORTAL)
    db.session.commit()
    state = db.session.get(ConsentState, (customer_id, "marketing-email"))
    assert (state.status, state.event_id) == ("given", event.id)
    assert services.check_consent(customer_id, "marketing-email").allowed is True


def test_a_choice_for_an_erased_subject_is_refused(db, policies, create_customer):
    from consentmgr.customers.services import CustomerErased, erase_customer

    customer = create_customer()
    erase_customer(customer, actor=CUSTOMER_ACTOR)
    db.session.commit()
    with pytest.raises(CustomerErased):
        services.grant_consent(services.choice_subject(customer.id), "marketing-email", **PORTAL)
