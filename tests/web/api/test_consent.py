"""Consent through the API: the fast check, batches, the overview, recording choices."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import TEST_ACTOR
from tests.web.api.conftest import assert_problem


def _check(client, headers, customer_id, purpose):
    return client.get(f"/api/v1/customers/{customer_id}/consents/{purpose}", headers=headers)


def _record(client, headers, customer_id, **body):
    return client.post(f"/api/v1/customers/{customer_id}/consents", json=body, headers=headers)


def test_nothing_is_allowed_before_consent_is_given(client, bearer, policy, create_customer):
    customer = create_customer()
    decision = _check(client, bearer, customer.id, "marketing-email").get_json()
    assert decision == {"customer_id": str(customer.id), "purpose": "marketing-email",
                        "allowed": False, "status": "not-given", "reason": "not-given",
                        "policy_version": "2026-03", "updated_at": None, "expires_at": None}


def test_a_recorded_grant_allows_and_a_withdrawal_stops(client, bearer, policy, create_customer):
    customer = create_customer()
    assert _record(client, bearer, customer.id, purpose="marketing-email",
                   action="granted").status_code == 201
    assert _check(client, bearer, customer.id, "marketing-email").get_json()["allowed"] is True
    _record(client, bearer, customer.id, purpose="marketing-email", action="withdrawn")
    decision = _check(client, bearer, customer.id, "marketing-email").get_json()
    assert (decision["allowed"], decision["reason"]) == (False, "withdrawn")


def test_a_restricted_customer_is_never_allowed(client, db, bearer, policy, create_customer):
    from consentmgr.customers.services import restrict_processing

    customer = create_customer()
    _record(client, bearer, customer.id, purpose="marketing-email", action="granted")
    restrict_processing(customer, actor=TEST_ACTOR)
    db.session.commit()
    decision = _check(client, bearer, customer.id, "marketing-email").get_json()
    assert (decision["allowed"], decision["reason"]) == (False, "restricted")


def test_the_check_writes_no_audit_entry(client, db, bearer, policy, create_customer):
    from consentmgr.audit.models import AuditEntry

    customer = create_customer()
    before = db.session.query(AuditEntry).count()
    _check(client, bearer, customer.id, "marketing-email")
    assert db.session.query(AuditEntry).count() == before


def test_an_unknown_purpose_is_404(client, bearer, policy, create_customer):
    customer = create_customer()
    assert_problem(_check(client, bearer, customer.id, "mind-reading"), 404, "not-found")


def test_an_unknown_customer_is_404(client, bearer, policy):
    assert_problem(_check(client, bearer, uuid.uuid4(), "marketing-email"), 404, "not-found")


def test_without_a_policy_in_effect_the_check_is_404(client, bearer, create_customer):
    customer = create_customer()
    body = assert_problem(_check(client, bearer, customer.id, "marketing-email"), 404)
    assert body["detail"] == "No privacy policy is in effect yet."


def test_the_overview_lists_every_purpose_in_effect(client, bearer, policy, create_customer):
    from consentmgr.policies.services import current_version

    customer = create_customer()
    overview = client.get(f"/api/v1/customers/{customer.id}/consents", headers=bearer).get_json()
    assert [c["purpose"] for c in overview["consents"]] == [p.slug for p in current_version().purposes]
    contract = next(c for c in overview["consents"] if c["purpose"] == "account")
    assert (contract["allowed"], contract["status"]) == (True, "not-required")


def test_batch_checks_answer_in_the_order_sent(client, bearer, policy, create_customer):
    one, two = create_customer(), create_customer()
    _record(client, bearer, two.id, purpose="marketing-email", action="granted")
    checks = [{"customer_id": str(one.id), "purpose": "marketing-email"},
              {"customer_id": str(two.id), "purpose": "marketing-email"},
              {"customer_id": str(uuid.uuid4()), "purpose": "marketing-email"},
              {"customer_id": str(one.id), "purpose": "mind-reading"}]
    results = client.post("/api/v1/consent-checks", json={"checks": checks},
                          headers=bearer).get_json()["results"]
    assert [(r["customer_id"], r["purpose"]) for r in results] == [
        (c["customer_id"], c["purpose"]) for c in checks]
    assert [r["allowed"] for r in results] == [False, True, False, False]
    assert [r["reason"] for r in results[2:]] == ["unknown-customer", "unknown-purpose"]


def test_a_batch_of_a_thousand_checks_is_accepted(client, bearer, policy, create_customer):
    customer = create_customer()
    checks = [{"customer_id": str(customer.id), "purpose": "analytics"}] * 1000
    response = client.post("/api/v1/consent-checks", json={"checks": checks}, headers=bearer)
    assert len(response.get_json()["results"]) == 1000


def test_more_than_a_thousand_checks_are_refused(client, bearer, policy):
    checks = [{"customer_id": str(uuid.uuid4()), "purpose": "analytics"}] * 1001
    body = assert_problem(client.post("/api/v1/consent-checks", json={"checks": checks},
                                      headers=bearer), 422)
    assert set(body["errors"]) == {"checks"}


def test_an_empty_batch_is_refused(client, bearer):
    assert_problem(client.post("/api/v1/consent-checks", json={"checks": []}, headers=bearer), 422)


def test_a_batch_in_any_form_the_schema_takes_answers_like_the_plain_form(client, bearer, policy,
                                                                           create_customer):
    """The hand-written parser takes only plain bodies; the schema takes the rest, alike."""
    customer = create_customer()
    _record(client, bearer, customer.id, purpose="marketing-email", action="granted")
    plain = {"customer_id": str(customer.id), "purpose": "marketing-email"}
    spellings = [str(customer.id).upper(), "{" + str(customer.id) + "}", customer.id.hex]
    answers = [client.post("/api/v1/consent-checks", headers=bearer, json={"checks": [
        {**plain, "customer_id": spelling}]}).get_json() for spelling in [plain["customer_id"],
                                                                          *spellings]]
    assert all(answer == answers[0] for answer in answers)
    assert answers[0]["results"][0]["allowed"] is True
    assert answers[0]["results"][0]["customer_id"] == str(customer.id)


@pytest.mark.parametrize("check, field", [
    ({"customer_id": "not-a-uuid", "purpose": "analytics"}, "checks.0.customer_id"),
    ({"customer_id": str(uuid.UUID(int=1)), "purpose": "Analytics!"}, "checks.0.purpose"),
    ({"customer_id": str(uuid.UUID(int=1)), "purpose": "analytics\n"}, "checks.0.purpose"),
    ({"customer_id": str(uuid.UUID(int=1))}, "checks.0.purpose"),
    ({"customer_id": str(uuid.UUID(int=1)), "purpose": "analytics", "extra": 1}, "checks.0.extra"),
])
def test_a_bad_pair_is_named_by_its_position(client, bearer, check, field):
    body = assert_problem(client.post("/api/v1/consent-checks", json={"checks": [check]},
                                      headers=bearer), 422)
    assert field in body["errors"]


def test_recording_keeps_the_evidence_and_the_notice_shown(client, db, bearer, policy,
                                                          create_customer):
    from consentmgr.consent.models import ConsentEvent
    from consentmgr.policies.services import get_purpose

    customer = create_customer()
    notice = get_purpose("2026-03", "marketing-email").notice_hash
    response = _record(client, bearer, customer.id, purpose="marketing-email", action="granted",
                       policy_version="2026-03", notice_hash=notice,
                       collected_at="2026-03-02T10:14:00Z", channel="import",
                       evidence={"gpc": False, "note": "paper form 17"})
    assert response.status_code == 201
    answer = response.get_json()
    assert (answer["status"], answer["notice_hash"], answer["channel"]) == ("given", notice, "import")
    assert "paper form" not in response.get_data(as_text=True)
    event = db.session.get(ConsentEvent, uuid.UUID(answer["event_id"]))
    assert (event.actor_type, event.note) == ("api-client", "paper form 17")
    assert event.collected_at.replace(tzinfo=None).isoformat() == "2026-03-02T10:14:00"


def test_a_notice_hash_that_does_not_match_the_policy_is_422(client, bearer, policy, create_customer):
    customer = create_customer()
    body = assert_problem(_record(client, bearer, customer.id, purpose="marketing-email",
                                  action="granted", notice_hash="0" * 64), 422)
    assert set(body["errors"]) == {"notice_hash"}


def test_consent_to_a_purpose_based_on_contract_is_409(client, bearer, policy, create_customer):
    customer = create_customer()
    assert_problem(_record(client, bearer, customer.id, purpose="account", action="granted"), 409)


def test_a_choice_dated_in_the_future_is_422(client, bearer, policy, create_customer):
    customer = create_customer()
    body = assert_problem(_record(client, bearer, customer.id, purpose="marketing-email",
                                  action="granted", collected_at="2999-01-01T00:00:00Z"), 422)
    assert set(body["errors"]) == {"collected_at"}


def test_recording_for_an_erased_customer_is_409(client, db, bearer, policy, create_customer):
    from consentmgr.customers.services import erase_customer

    customer = create_customer()
    erase_customer(customer, actor=TEST_ACTOR)
    db.session.commit()
    assert_problem(_record(client, bearer, customer.id, purpose="marketing-email",
                           action="granted"), 409)


def test_an_erased_customer_reads_as_an_empty_record(client, db, bearer, create_customer):
    from consentmgr.customers.services import erase_customer

    customer = create_customer()
    erase_customer(customer, actor=TEST_ACTOR)
    db.session.commit()
    record = client.get(f"/api/v1/customers/{customer.id}", headers=bearer).get_json()
    assert record["status"] == "erased"
    assert record["email"] is record["name"] is record["preferences"] is None


def test_recording_for_an_unknown_customer_is_404(client, bearer, policy):
    assert_problem(_record(client, bearer, uuid.uuid4(), purpose="marketing-email",
                           action="granted"), 404, "not-found")


def _rows(db) -> dict[str, int]:
    import sqlalchemy as sa

    db.session.rollback()
    return {table: db.session.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in ("consent_states", "consent_events", "audit_entries")}


@pytest.mark.parametrize("customer", ["unknown", "erased"])
@pytest.mark.parametrize("body", [
    {"purpose": "no-such-purpose", "action": "granted"},  # alone: 404 unknown purpose
    {"purpose": "CONTRACT", "action": "granted"},  # alone: 409 not based on consent
    {"purpose": "marketing-email", "action": "granted", "policy_version": "1999-01"},  # alone: 422
    {"purpose": "marketing-email", "action": "granted"},
])
def test_an_unknown_or_erased_customer_is_the_first_error_and_nothing_is_written(
        client, db, bearer, policy, create_customer, customer, body):
    """On PostgreSQL the write's own statement checks the customer (no SELECT before it):
    the answer is the customer's error, whatever else is wrong, as when it was checked first."""
    from consentmgr.consent.services import catalogue
    from consentmgr.customers.services import erase_customer

    if body["purpose"] == "CONTRACT":
        body = {**body, "purpose": next(p.slug for p in catalogue().purposes.values()
                                        if p.legal_basis == "contract")}
    if customer == "erased":
        target = create_customer()
        erase_customer(target, actor=TEST_ACTOR)
        db.session.commit()
        customer_id, status = target.id, 409
    else:
        customer_id, status = uuid.uuid4(), 404
    plain = _record(client, bearer, customer_id, purpose="marketing-email", action="granted")
    before = _rows(db)

    response = _record(client, bearer, customer_id, **body)

    assert_problem(response, status)
    assert response.get_json()["detail"] == plain.get_json()["detail"]
    assert _rows(db) == before


def test_a_batch_answers_each_pair_as_the_single_check_does(client, bearer, policy,
                                                            create_customer):
    """Repeated pairs, a customer with states for other purposes too, one with none at all."""
    busy, quiet = create_customer(), create_customer()
    _record(client, bearer, busy.id, purpose="marketing-email", action="granted")
    _record(client, bearer, busy.id, purpose="marketing-sms", action="granted")
    _record(client, bearer, busy.id, purpose="marketing-sms", action="withdrawn")
    pairs = [(busy, "marketing-email"), (busy, "marketing-sms"), (busy, "analytics"),
             (quiet, "marketing-email"), (busy, "marketing-email")]
    batch = client.post("/api/v1/consent-checks", headers=bearer, json={"checks": [
        {"customer_id": str(c.id), "purpose": p} for c, p in pairs]}).get_json()["results"]
    singles = [_check(client, bearer, c.id, p).get_json() for c, p in pairs]
    assert batch == singles
    assert [(r["status"], r["allowed"]) for r in batch[:2]] == [("given", True),
                                                                ("withdrawn", False)]
    assert batch[3]["allowed"] is False and batch[4] == batch[0]


def test_recording_says_the_language_of_the_notice_shown(client, db, bearer, policy,
                                                         create_customer):
    from consentmgr.policies.services import document_of, get_version

    customer = create_customer()
    german = document_of(get_version("2026-03"), "de").purpose("marketing-email").notice_hash
    response = _record(client, bearer, customer.id, purpose="marketing-email", action="granted",
                       language="de", notice_hash=german)
    assert response.status_code == 201
    answer = response.get_json()
    assert (answer["language"], answer["notice_hash"]) == ("de", german)


def test_recording_without_a_language_records_english(client, bearer, policy, create_customer):
    response = _record(client, bearer, create_customer().id, purpose="marketing-email",
                       action="granted")
    assert response.get_json()["language"] == "en"


def test_a_language_the_app_does_not_speak_is_a_problem(client, bearer, policy, create_customer):
    body = assert_problem(_record(client, bearer, create_customer().id, purpose="marketing-email",
                                  action="granted", language="fr"), 422)
    assert set(body["errors"]) == {"language"}


@pytest.mark.parametrize("collected", [None, "2026-03-02T09:30:00+00:00"])
def test_the_write_answers_as_its_schema_dumps(client, db, bearer, policy, create_customer,
                                               collected):
    """The answer is written by hand (fast_json.event_document); the schema documents it."""
    import datetime as dt

    from consentmgr.consent.models import ConsentEvent
    from consentmgr.web.api.schemas import ConsentEventSchema

    customer = create_customer()
    extra = {"collected_at": collected} if collected else {}
    response = _record(client, bearer, customer.id, purpose="marketing-email", action="granted",
                       channel="api", **extra)
    answer = response.get_json()
    event = db.session.get(ConsentEvent, uuid.UUID(answer["event_id"]))

    assert response.status_code == 201
    assert answer == ConsentEventSchema().dump({
        "event_id": event.id, "customer_id": customer.id, "purpose": event.purpose,
        "action": event.action.value, "status": event.status.value,
        "channel": event.channel.value, "policy_version": event.policy_version,
        "notice_hash": event.notice_hash, "language": event.language,
        "recorded_at": event.occurred_at, "collected_at": event.collected_at,
        "cursor": answer["cursor"]})
    assert (answer["collected_at"] is None) == (collected is None)
    if collected:
        assert dt.datetime.fromisoformat(answer["collected_at"]) == dt.datetime.fromisoformat(collected)
