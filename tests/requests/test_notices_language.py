"""Request mails are written in the customer's language (GDPR Art. 12(1)), whoever acts."""

from __future__ import annotations

import datetime as dt

from consentmgr.customers import services as customers
from consentmgr.customers.signin import portal_actor
from consentmgr.i18n import in_language
from consentmgr.mail import queued_mail
from consentmgr.requests import notices, services
from consentmgr.sql import utcnow
from tests.conftest import TEST_ACTOR
from tests.requests.conftest import DPO
from tests.requests.test_inactivity import (  # noqa: F401 - fixtures
    CLOSE_AT,
    PERIOD,
    WARN_AT,
    inactivity_policy,
    quiet_customer,
    run,
    start,
)

UTC = dt.UTC
FILED = dt.datetime(2026, 3, 31, 9, 0, tzinfo=UTC)
GERMAN = {"language": "de"}


def test_a_german_customer_is_told_of_receipt_extension_and_refusal_in_german(
        db, create_customer, policies, outbox):
    customer = create_customer(preferences=GERMAN)
    req = services.file_request(customer, "erasure", actor=portal_actor(customer),
                                channel="portal", now=FILED)
    services.extend_request(req, actor=DPO, months=2, reason="Wir müssen das Lager fragen",
                            now=dt.datetime(2026, 4, 2, tzinfo=UTC))
    services.refuse_request(req, actor=DPO, reason_code="manifestly-unfounded",
                            explanation="Der fünfte gleiche Antrag in diesem Monat")

    (_, received, body), (_, extended, later), (_, refused, why) = outbox
    assert received == "Wir haben Ihren Antrag erhalten"
    assert "Antrag: Löschung Ihrer Daten (Art. 17 DSGVO)" in body
    assert "Eingegangen am: 31. März 2026" in body
    assert "Wir antworten Ihnen spätestens bis: 30. April 2026" in body
    assert "Ihr Datenschutzportal: " in body and "We " not in body
    assert extended == "Wir benötigen mehr Zeit für Ihren Antrag"
    assert "30. Juni 2026" in later and "Begründung:" in later
    assert refused == "Wir können Ihrem Antrag nicht nachkommen"
    assert "offenkundig unbegründet oder exzessiv (Art. 12 Abs. 5 DSGVO)" in why
    # The right to complain, from the German text of the policy in effect (2026-03).
    assert "Berliner Beauftragte für Datenschutz und Informationsfreiheit" in why
    assert "Berlin Commissioner" not in why


def test_without_a_german_policy_text_the_right_to_complain_is_still_said_in_german(db):
    with in_language("de"):
        text = notices.complaint_text()

    assert text.startswith("Sie haben das Recht, sich bei einer Datenschutz-Aufsichtsbehörde")
    assert text.endswith("(Art. 77 DSGVO).")


def test_a_german_customer_is_told_of_completion_withdrawal_and_lifting_in_german(
        db, create_customer, policies, outbox):
    customer = create_customer(preferences=GERMAN)
    me = portal_actor(customer)
    first = services.file_request(customer, "rectification", actor=me, channel="portal")
    services.withdraw_request(first, actor=me)
    second = services.file_request(customer, "rectification", actor=me, channel="portal")
    services.complete_request(second, actor=DPO, outcome="rectified")
    services.file_request(customer, "restriction", actor=me, channel="portal")
    outbox_before_lifting = len(outbox)
    services.lift_restriction_request(customer, actor=DPO)

    subjects = [subject for _, subject, _ in outbox]
    assert "Ihr Antrag wurde zurückgezogen" in subjects
    assert subjects.count("Ihr Antrag wurde beantwortet") == 2  # the rectification, the restriction
    assert any("Wir haben Ihre Daten berichtigt." in body for _, _, body in outbox)
    (_, lifting, body) = outbox[outbox_before_lifting]
    assert lifting == "Wir heben die Einschränkung der Verarbeitung auf"
    assert "an die oder den Datenschutzbeauftragten" in body


def test_the_customers_language_counts_not_the_language_of_the_page_that_acted(
        db, create_customer, policies, outbox):
    german = create_customer(preferences=GERMAN)
    english = create_customer()
    with in_language("de"):  # a DPO working on German pages
        services.file_request(english, "rectification", actor=TEST_ACTOR, channel="staff")
    with in_language("en"):
        services.file_request(german, "rectification", actor=TEST_ACTOR, channel="staff")

    assert [subject for _, subject, _ in outbox] == [
        "We have received your request", "Wir haben Ihren Antrag erhalten"]


def test_a_customer_preferring_a_language_we_do_not_write_gets_english(
        db, create_customer, policies, outbox):
    customer = create_customer(preferences={"language": "fr"})
    services.file_request(customer, "erasure", actor=portal_actor(customer), channel="portal",
                          now=FILED)

    [(_, subject, body)] = outbox
    assert subject == "We have received your request"
    assert "We will answer by: 30 April 2026" in body


def test_the_queued_message_says_which_language_it_is_written_in(db, create_customer, policies):
    german = create_customer(preferences=GERMAN)
    english = create_customer()
    for customer in (german, english):
        services.file_request(customer, "erasure", actor=portal_actor(customer), channel="portal")

    languages = {letter.to: letter.language for letter in queued_mail()}
    assert languages == {german.email: "de", english.email: "en"}


def test_a_german_account_is_warned_and_closed_in_german_with_what_is_kept(
        db, quiet_customer, outbox, run):
    customer = quiet_customer(days_ago=800, preferences=GERMAN)
    # A purchase on day 0, the last activity: the invoice is kept for years.
    customers.add_history(customer, {
        "occurred_at": utcnow().isoformat(), "channel": "web",
        "kind": "purchase", "data_category": "order-history", "summary": "Invoice 9"},
        actor=TEST_ACTOR)
    db.session.commit()

    run(WARN_AT)
    run(CLOSE_AT)

    (_, warning, body), (_, closure, closed) = outbox
    assert warning == "Ihr Konto wird bald geschlossen"
    assert f"{PERIOD} Tage lang nicht genutzt" in body and "Wenn Sie sich nicht vor dem " in body
    assert closure == "Wir haben Ihr ungenutztes Konto geschlossen"
    assert f"weil es {PERIOD} Tage lang nicht genutzt wurde" in closed
    assert "Wir haben Ihre Daten gelöscht, außer denen" in closed and "Geschlossen am: " in closed
    assert "Was wir aufbewahren, weil das Gesetz es verlangt" in closed
    assert "(spätestens am " in closed


def test_what_an_erasure_keeps_is_listed_in_german_as_the_german_policy_words_it(
        db, create_customer, policies, outbox):
    customer = create_customer(preferences=GERMAN)
    customers.add_history(customer, {
        "occurred_at": "2026-06-01T12:00:00+00:00", "channel": "web", "kind": "purchase",
        "data_category": "order-history", "summary": "Invoice 2026-0042"}, actor=TEST_ACTOR)
    db.session.commit()
    req = services.file_request(customer, "erasure", actor=portal_actor(customer),
                                channel="portal")
    services.approve_request(req, actor=DPO)

    (_, subject, body) = outbox[-1]
    assert subject == "Ihr Antrag wurde beantwortet"
    assert "Was wir aufbewahren, weil das Gesetz es verlangt" in body
    assert "- Bestellungen und Rechnungen: " in body and "Orders and invoices" not in body
    assert "(spätestens am " in body
