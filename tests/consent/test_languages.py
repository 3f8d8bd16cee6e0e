"""A choice records the language of the notice shown, and that language's notice hash."""

from __future__ import annotations

import pytest

from consentmgr.consent import services
from consentmgr.consent.models import ConsentEvent
from consentmgr.consent.receipts import issue_receipt, receipt_claims, verify_receipt
from consentmgr.errors import ValidationFailed
from consentmgr.policies.services import document_of, get_notice, get_version
from tests.consent.conftest import CUSTOMER_ACTOR

PORTAL = {"actor": CUSTOMER_ACTOR, "channel": "portal"}


def german_hash(slug: str, version: str = "2026-03") -> str:
    return document_of(get_version(version), "de").purpose(slug).notice_hash


def test_a_choice_made_on_a_german_page_records_german_and_the_german_hash(
        db, policies, create_customer):
    customer = create_customer()
    event = services.grant_consent(customer, "marketing-email", language="de", **PORTAL)
    db.session.commit()
    stored = db.session.get(ConsentEvent, event.id)
    assert (stored.language, stored.notice_hash) == ("de", german_hash("marketing-email"))
    assert stored.notice_hash != get_notice("2026-03", "marketing-email").notice_hash


def test_without_a_language_the_english_notice_is_recorded(db, policies, create_customer):
    event = services.grant_consent(create_customer(), "marketing-email", **PORTAL)
    assert (event.language, event.notice_hash) == (
        "en", get_notice("2026-03", "marketing-email").notice_hash)


def test_a_version_without_the_language_records_the_english_notice_it_showed(
        db, publish, create_customer):
    publish("2025-01.md", "2026-03.md")  # English only
    event = services.grant_consent(create_customer(), "marketing-email", language="de", **PORTAL)
    assert (event.language, event.notice_hash) == (
        "en", get_notice("2026-03", "marketing-email").notice_hash)


def test_an_earlier_version_is_recorded_with_its_own_notice_in_the_language(
        db, policies, create_customer):
    event = services.grant_consent(
        create_customer(), "marketing-email", language="de", policy_version="2025-01",
        notice_hash=german_hash("marketing-email", "2025-01"), **PORTAL)
    assert (event.policy_version, event.language) == ("2025-01", "de")


def test_the_english_hash_sent_with_german_is_refused(db, policies, create_customer):
    english = get_notice("2026-03", "marketing-email").notice_hash
    with pytest.raises(ValidationFailed) as caught:
        services.grant_consent(create_customer(), "marketing-email", language="de",
                               notice_hash=english, **PORTAL)
    assert set(caught.value.errors) == {"notice_hash"}


def test_a_language_the_app_does_not_speak_is_refused(db, policies, create_customer):
    with pytest.raises(ValidationFailed) as caught:
        services.grant_consent(create_customer(), "marketing-email", language="fr", **PORTAL)
    assert set(caught.value.errors) == {"language"}


def test_the_receipt_says_german_with_the_german_purpose_and_verifies(
        db, policies, create_customer):
    event = services.grant_consent(create_customer(), "personalisation", language="de", **PORTAL)
    db.session.commit()
    claims = receipt_claims(event)
    assert claims["language"] == "de"
    assert claims["services"][0]["purposes"][0]["purpose"] == "Persönliche Empfehlungen"
    assert claims["consentmgr"]["noticeHash"] == german_hash("personalisation")
    assert verify_receipt(issue_receipt(event))["language"] == "de"


def test_the_catalogue_knows_each_languages_notice_without_another_query(
        db, policies, create_customer):
    info = services.purpose_info("personalisation")
    assert info.notice_in("de") == ("de", german_hash("personalisation"))
    assert info.title_in("de") == "Persönliche Empfehlungen"
    assert info.notice_in("fr") == ("en", info.notice_hash)


def _statements_of(db, write) -> int:
    import sqlalchemy as sa

    seen: list[str] = []
    engine = db.session.get_bind()

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        write()
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    return len(seen)


def test_a_german_choice_costs_no_more_statements_than_an_english_one(
        db, policies, create_customer):
    customer = create_customer()
    # A running app: the catalogue cached, the statements prepared.
    services.grant_consent(customer, "marketing-sms", **PORTAL)
    english = _statements_of(db, lambda: services.grant_consent(
        customer, "marketing-email", **PORTAL))
    german = _statements_of(db, lambda: services.grant_consent(
        customer, "personalisation", language="de", **PORTAL))
    assert german == english
