"""Erasure (GDPR Art. 17): crypto-shredding, what the law keeps, legal holds, no traces left."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from consentmgr.apiclients.models import ApiClient, ExternalRef, IdempotencyRecord
from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from consentmgr.consent.services import check_consent
from consentmgr.customers import services as customers
from consentmgr.customers.models import Customer, CustomerStatus, HistoryEntry, PortalSignInToken
from consentmgr.customers.signin import portal_actor, request_sign_in_link
from consentmgr.keys.models import DataKey
from consentmgr.requests import services
from consentmgr.requests.models import RequestStatus
from consentmgr.runtime import runtime
from tests.conftest import TEST_ACTOR
from tests.requests.conftest import DPO

UTC = dt.timezone.utc


def _marked_customer(db, create_customer):
    tag = uuid.uuid4().hex[:10]
    marks = {"email": f"erase{tag}@example.org", "name": f"ERASEDNAME{tag}",
             "external_ref": f"CRM-ERASE-{tag}"}
    customer = create_customer(email=marks["email"], name=marks["name"])
    client = ApiClient(id=uuid.uuid4(), name="crm", key_prefix="cm_test", key_hash=tag * 6 + "abcd",
                       scopes=["customers:write"], created_by="system:test")
    db.session.add(client)
    db.session.flush()
    ref = ExternalRef(client_id=client.id, customer_id=customer.id, ref_index=f"idx1:ref-{tag}")
    ref.external_ref = marks["external_ref"]  # encrypted under the customer's key
    answer = IdempotencyRecord(
        client_id=client.id, key_index=f"idx1:key-{tag}", request_hash="0" * 64, status_code=201,
        location=f"/api/v1/customers/{customer.id}", customer_id=customer.id)
    answer.response_body = f'{{"id": "{customer.id}", "created": true}}'
    db.session.add_all([ref, answer, IdempotencyRecord(
        client_id=client.id, key_index=f"idx1:other-{tag}", request_hash="1" * 64,
        status_code=202, location="/api/v1/elsewhere")])
    customers.add_history(customer, {
        "occurred_at": "2026-05-02T10:00:00+00:00", "channel": "chat", "kind": "support-contact",
        "data_category": "support-history", "summary": f"SUPPORTNOTE{tag}"}, actor=TEST_ACTOR)
    db.session.commit()
    request_sign_in_link(marks["email"])
    db.session.commit()
    marks["summary"] = f"SUPPORTNOTE{tag}"
    return customer, marks


def _erase(db, customer):
    req = services.file_request(customer, "erasure", actor=portal_actor(customer), channel="portal",
                                notes="Please delete everything")
    db.session.commit()
    services.approve_request(req, actor=DPO)
    db.session.commit()
    return req


def _database_bytes(db) -> bytes:
    """What the database holds: the SQLite files as on disk; on PostgreSQL every row, raw.

    PostgreSQL keeps deleted tuples in its files until ``VACUUM`` can remove
    them, which any older transaction in the cluster postpones (README:
    erasure on PostgreSQL); the rows are what this test can pin down there.
    """
    if db.engine.dialect.name == "sqlite":
        db.session.remove()
        db.engine.dispose()
        path = Path(db.engine.url.database)
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    db.session.commit()
    chunks = []
    for metadata in db.metadatas.values():
        for table in metadata.sorted_tables:
            with db.session.get_bind(clause=table).connect() as conn:
                for row in conn.execute(sa.select(table)):
                    chunks += [v if isinstance(v, bytes) else str(v).encode() for v in row]
    return b"\x00".join(chunks)


def test_after_erasure_no_marker_of_the_customer_is_left_in_the_database_bytes(
        db, create_customer, policies, outbox):
    customer, marks = _marked_customer(db, create_customer)
    customer_id = customer.id
    # The CRM's reference is not stored in clear even before the erasure (it is sealed).
    assert marks["external_ref"].encode() not in _database_bytes(db)
    customer = db.session.get(Customer, customer_id)
    _erase(db, customer)
    data = _database_bytes(db)
    assert str(customer_id).replace("-", "").encode() in data or str(customer_id).encode() in data
    found = [name for name, value in marks.items()
             for needle in (value.encode(), value.lower().encode(), value.encode("utf-16-le"))
             if needle in data]
    assert found == []
    assert check_consent(customer_id, "marketing-email").reason == "erased"
    assert check_consent(customer_id, "analytics").status == "erased"


def test_erasure_crypto_shreds_the_record_and_removes_every_link_to_it(
        db, create_customer, policies, outbox):
    customer, marks = _marked_customer(db, create_customer)
    req = _erase(db, customer)
    customer = db.session.get(Customer, customer.id)
    assert req.status == RequestStatus.COMPLETED and req.outcome == "erased"
    assert customer.status == CustomerStatus.ERASED and customer.email_index is None
    assert customer.email is None and customer.name is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DataKey).where(
        DataKey.owner_id == customer.id, DataKey.wrapped.is_not(None))) == 0
    for model in (ExternalRef, PortalSignInToken):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(model).where(
            model.customer_id == customer.id)) == 0
    # Answers about the customer lose body and Location (a retry is refused, not redone).
    answers = {r.key_index.split("-")[0]: r
               for r in db.session.scalars(sa.select(IdempotencyRecord))}
    assert answers["idx1:key"]._response_body is None and answers["idx1:key"].location is None
    assert answers["idx1:other"].location == "/api/v1/elsewhere"
    assert db.session.scalar(sa.select(HistoryEntry._summary)) is None
    assert services.get_request(req.id).notes is None  # the request's notes went with the key
    assert customers.find_by_email(marks["email"]) is None


def test_the_confirmation_is_mailed_to_the_address_before_it_became_unreadable(
        db, create_customer, policies, outbox):
    customer, marks = _marked_customer(db, create_customer)
    _erase(db, customer)
    to, subject, body = outbox[-1]
    assert to == marks["email"] and subject == "Your request has been answered"
    assert "We have erased your data." in body


def test_an_erased_customer_appears_in_the_change_feed(db, create_customer, policies, outbox):
    customer, _ = _marked_customer(db, create_customer)
    req = _erase(db, customer)
    actions_seen = [(e.action, (e.details or {}).get("request_id")) for e in db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.subject_id == customer.id,
                                    AuditEntry.action.in_(actions.FEED_ACTIONS))
        .order_by(AuditEntry.sequence))]
    assert actions_seen == [(actions.REQUEST_RECEIVED, str(req.id)),
                            (actions.CUSTOMER_ERASED, None),
                            (actions.REQUEST_COMPLETED, str(req.id))]


def test_erasing_twice_is_refused(db, create_customer, policies, outbox):
    customer, _ = _marked_customer(db, create_customer)
    req = _erase(db, customer)
    with pytest.raises(services.RequestClosed):
        services.approve_request(req, actor=DPO)
    with pytest.raises(services.CustomerErased):
        services.file_request(customer, "erasure", actor=DPO, channel="staff")


# --- kept for tax -------------------------------------------------------------


def _add(customer, category: str, summary: str, when: str = "2026-06-01T12:00:00+00:00"):
    return customers.add_history(customer, {
        "occurred_at": when, "channel": "web", "kind": "purchase", "data_category": category,
        "summary": summary}, actor=TEST_ACTOR)


def test_the_shipped_policy_keeps_orders_and_payment_references_for_tax(db, policies):
    from consentmgr.policies.services import current_version, document_of

    kept = services.kept_categories(document_of(current_version()))
    assert sorted(kept) == ["order-history", "payment-references"]
    assert kept["order-history"].retention_days == 4018


def test_order_history_kept_for_tax_survives_erasure_restricted(db, create_customer, policies, outbox):
    customer = create_customer(email="taxed@example.org", name="Tax Payer")
    invoice = _add(customer, "order-history", "Invoice 2026-0042: 2 watering cans, EUR 31.90")
    payment = _add(customer, "payment-references", "Paylane txn 9F3A")
    chat = _add(customer, "support-history", "Asked about delivery")
    db.session.commit()
    req = _erase(db, customer)
    customer = db.session.get(Customer, customer.id)
    assert req.outcome == "partly-erased"
    assert customer.status == CustomerStatus.RESTRICTED
    assert customer.retained_until == invoice.occurred_at + dt.timedelta(days=4018)
    assert customer.email is None and customer.name is None and customer.email_index is None
    kept = {h.id: h.summary for h in db.session.scalars(
        sa.select(HistoryEntry).where(HistoryEntry.customer_id == customer.id))}
    assert kept == {invoice.id: "Invoice 2026-0042: 2 watering cans, EUR 31.90",
                    payment.id: "Paylane txn 9F3A", chat.id: None}
    assert check_consent(customer.id, "marketing-email").reason == "restricted"
    body = outbox[-1][2]
    assert "Orders and invoices" in body and "Payment references" in body
    assert "Customer service history" not in body
    with pytest.raises(services.RetainedByLaw):
        services.lift_restriction_request(customer, actor=DPO)


def test_history_whose_retention_has_ended_is_not_kept(db, create_customer, policies, outbox):
    customer = create_customer()
    _add(customer, "order-history", "Invoice from 2010", when="2010-03-01T12:00:00+00:00")
    db.session.commit()
    req = _erase(db, customer)
    assert req.outcome == "erased"
    assert db.session.get(Customer, customer.id).status == CustomerStatus.ERASED


def test_kept_history_is_erased_when_its_period_ends(db, create_customer, policies, outbox):
    customer = create_customer()
    invoice = _add(customer, "order-history", "Invoice 7")
    db.session.commit()
    _erase(db, customer)
    until = db.session.get(Customer, customer.id).retained_until
    assert services.purge_expired_retention(actor=TEST_ACTOR, now=until - dt.timedelta(days=1)) == 0
    assert services.purge_expired_retention(actor=TEST_ACTOR, now=until) == 1
    db.session.commit()
    customer = db.session.get(Customer, customer.id)
    assert customer.status == CustomerStatus.ERASED and customer.retained_until is None
    assert db.session.get(HistoryEntry, invoice.id).summary is None


# --- legal hold ---------------------------------------------------------------


def test_a_legal_hold_refuses_the_erasure_with_its_exception(db, create_customer, policies, outbox):
    customer = create_customer()
    services.place_legal_hold(customer, actor=DPO, exception="legal-claims",
                              note="Lawsuit 4 O 123/26")
    db.session.commit()
    req = _erase(db, customer)
    assert req.status == RequestStatus.REFUSED and req.refusal_reason == "legal-claims"
    assert db.session.get(Customer, customer.id).status == CustomerStatus.ACTIVE
    assert db.session.get(Customer, customer.id).email is not None
    assert "GDPR Art. 17(3)(e)" in outbox[-1][2]


def test_auto_approval_erases_at_once_unless_a_hold_applies(db, create_customer, policies, outbox):
    free, held = create_customer(), create_customer()
    services.place_legal_hold(held, actor=DPO, exception="legal-obligation")
    first = services.file_request(free, "erasure", actor=portal_actor(free), channel="portal",
                                  auto_approve_erasure=True)
    second = services.file_request(held, "erasure", actor=portal_actor(held), channel="portal",
                                   auto_approve_erasure=True)
    assert first.status == RequestStatus.COMPLETED and free.status == CustomerStatus.ERASED
    assert second.status == RequestStatus.RECEIVED and held.status == CustomerStatus.ACTIVE


def test_the_setting_turns_auto_approval_on(app, db, create_customer, policies, outbox, monkeypatch):
    state = runtime(app)
    monkeypatch.setattr(state, "settings",
                        dataclasses.replace(state.settings, requests_auto_approve_erasure=True))
    customer = create_customer()
    req = services.file_request(customer, "erasure", actor=portal_actor(customer),
                                channel="portal")
    assert req.status == RequestStatus.COMPLETED and req.outcome == "erased"


def test_without_the_setting_erasure_waits_for_the_dpo(app, db, create_customer, policies, outbox):
    assert runtime(app).settings.requests_auto_approve_erasure is False
    customer = create_customer()
    req = services.file_request(customer, "erasure", actor=portal_actor(customer),
                                channel="portal")
    assert req.status == RequestStatus.RECEIVED and customer.status == CustomerStatus.ACTIVE


def test_account_categories_are_erased_even_though_accounting_lists_them(
        db, create_customer, policies, outbox):
    customer = create_customer()
    change = _add(customer, "identity", "Changed name")
    db.session.commit()
    req = _erase(db, customer)
    assert req.outcome == "erased"
    assert db.session.get(HistoryEntry, change.id).summary is None
