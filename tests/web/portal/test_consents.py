"""The consents page: one control per purpose, one click to give and one to withdraw."""

from __future__ import annotations

import html
import re

import pytest
import sqlalchemy as sa

from consentmgr.audit.models import AuditEntry
from consentmgr.consent import services as ledger
from consentmgr.consent.models import ConsentEvent
from consentmgr.policies.services import current_version, document_of
from tests.consent.conftest import CUSTOMER_ACTOR
from tests.web.portal.conftest import csrf_from

CONSENTS = "/portal/consents"


def page_text(client) -> str:
    response = client.get(CONSENTS)
    assert response.status_code == 200
    return html.unescape(response.get_data(as_text=True))


def purpose_section(page: str, slug: str) -> str:
    match = re.search(rf'<section class="purpose consent-purpose" aria-labelledby="purpose-{slug}">'
                      r"(.*?)</section>", page, re.DOTALL)
    assert match, f"no section for {slug}"
    return match.group(1)


def choose(client, slug: str, choice: str):
    """One click: the button's form posts the purpose and the choice, nothing else."""
    token = csrf_from(client.get(CONSENTS).data)
    return client.post(f"/portal/consents/{slug}/{choice}", data={"csrf_token": token})


def status(customer, slug: str) -> str:
    return ledger.check_consent(customer.id, slug).status


def event_count(db) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(ConsentEvent))


def test_there_is_one_section_per_purpose_of_the_policy_in_effect(client, signed_in):
    page = page_text(client)

    slugs = [p.slug for p in document_of(current_version()).purposes]
    assert re.findall(r'aria-labelledby="purpose-([a-z0-9-]+)"', page) == slugs


def test_nothing_is_pre_set(client, signed_in):
    page = page_text(client)

    assert "checked" not in page
    for slug in ("marketing-email", "personalisation", "third-party-sharing"):
        section = purpose_section(page, slug)
        assert "You have not given your consent." in section
        assert "Give consent" in section and "Withdraw consent" not in section


def test_each_consent_purpose_shows_its_text_basis_recipients_and_the_right_to_withdraw(client,
                                                                                       signed_in):
    document = document_of(current_version())
    page = page_text(client)

    for purpose in document.purposes:
        if purpose.legal_basis != "consent":
            continue
        section = purpose_section(page, purpose.slug)
        assert purpose.description in section
        assert "Your consent (GDPR Art. 6(1)(a))" in section
        assert all(recipient in section for recipient in purpose.recipients)
        assert "You can withdraw your consent at any time." in section


@pytest.mark.parametrize("slug", ["account", "order-fulfilment", "accounting"])
def test_contract_and_legal_obligation_purposes_are_information_without_a_control(client,
                                                                                 signed_in, slug):
    section = purpose_section(page_text(client), slug)

    assert "<form" not in section and "This is information only" in section


def test_legitimate_interest_purposes_offer_an_objection(client, signed_in):
    section = purpose_section(page_text(client), "analytics")

    assert "Object" in section and "Give consent" not in section


def test_giving_consent_takes_one_click_and_returns_to_the_page_with_a_message(client, signed_in):
    response = choose(client, "marketing-email", "grant")

    assert response.status_code == 302
    assert response.headers["Location"].endswith("/portal/consents#purpose-marketing-email")
    assert status(signed_in, "marketing-email") == "given"
    page = page_text(client)
    assert "You have given your consent to “Newsletter and offers by email”." in page
    assert "Withdraw consent" in purpose_section(page, "marketing-email")


def test_withdrawal_takes_no_more_steps_than_granting(client, signed_in):
    requests_to_grant = [choose(client, "personalisation", "grant")]
    assert status(signed_in, "personalisation") == "given"

    requests_to_withdraw = [choose(client, "personalisation", "withdraw")]

    assert status(signed_in, "personalisation") == "withdrawn"
    assert len(requests_to_withdraw) == len(requests_to_grant) == 1
    assert "You have withdrawn your consent" in page_text(client)


def test_a_choice_is_recorded_with_channel_portal_and_the_customer_as_actor(client, db, signed_in):
    choose(client, "marketing-sms", "grant")

    event = db.session.scalar(sa.select(ConsentEvent))
    assert (event.channel, event.actor_type, event.actor_id) == ("portal", "customer",
                                                                 str(signed_in.id))
    assert event.policy_version == "2026-03" and event.evidence.get("client_hash")


def test_an_objection_is_recorded(client, signed_in):
    choose(client, "analytics", "object")

    assert status(signed_in, "analytics") == "objected"
    assert "Your objection to" in page_text(client)


def test_a_consent_given_under_a_changed_notice_asks_again(client, db, signed_in):
    ledger.grant_consent(signed_in, "personalisation", actor=CUSTOMER_ACTOR, channel="portal",
                         policy_version="2025-01")
    db.session.commit()

    section = purpose_section(page_text(client), "personalisation")

    assert "Give consent again" in section
    assert "Your earlier consent no longer covers it" in section
    choose(client, "personalisation", "grant")
    assert status(signed_in, "personalisation") == "given"


def test_an_unknown_purpose_is_a_404_page_and_nothing_is_recorded(client, db, signed_in):
    audit_before = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry))

    response = choose(client, "selling-your-soul", "grant")

    assert response.status_code == 404
    assert b"defines no purpose with that name" in response.data
    assert event_count(db) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == audit_before


def test_an_unknown_choice_is_a_404(client, db, signed_in):
    assert choose(client, "marketing-email", "sell").status_code == 404
    assert event_count(db) == 0


def test_consenting_to_a_contract_purpose_is_refused_with_a_message(client, db, signed_in):
    response = choose(client, "account", "grant")

    assert response.status_code == 302 and response.headers["Location"].endswith(CONSENTS)
    assert "not consent: there is no consent to give or withdraw" in page_text(client)
    assert event_count(db) == 0


def test_choosing_needs_a_signed_in_customer(client, db, customer):
    token = csrf_from(client.get("/portal/sign-in").data)

    response = client.post("/portal/consents/marketing-email/grant", data={"csrf_token": token})

    assert response.status_code == 302 and response.headers["Location"].endswith("/portal/sign-in")
    assert event_count(db) == 0


def test_the_history_lists_events_newest_first_with_a_receipt_link_each(client, db, signed_in):
    choose(client, "marketing-email", "grant")
    choose(client, "marketing-email", "withdraw")
    events = ledger.events_for(signed_in)

    page = page_text(client)

    links = re.findall(r'href="/portal/receipts/([0-9a-f-]+)\.jws"', page)
    assert links == [str(e.id) for e in events]
    assert page.index("Consent withdrawn") < page.index("Consent given")


# ------------------------------------------------------------ Global Privacy Control


def test_a_gpc_signal_is_recorded_once_and_the_page_says_so(client, db, signed_in):
    first = client.get(CONSENTS, headers={"Sec-GPC": "1"})
    second = client.get("/portal/", headers={"Sec-GPC": "1"})

    gpc_events = db.session.scalars(sa.select(ConsentEvent).where(ConsentEvent.gpc.is_(True))).all()
    assert [(e.purpose, e.action) for e in gpc_events] == [("third-party-sharing", "refused")]
    for response in (first, second):
        assert b"Your opt-out preference signal has been honoured" in response.data


def test_a_gpc_signal_withdraws_a_consent_to_sharing(client, signed_in):
    choose(client, "third-party-sharing", "grant")

    client.get(CONSENTS, headers={"Sec-GPC": "1"})

    assert status(signed_in, "third-party-sharing") == "withdrawn"


def test_without_the_signal_nothing_is_recorded_and_nothing_is_said(client, db, signed_in):
    response = client.get(CONSENTS)

    assert b"opt-out preference signal" not in response.data
    assert event_count(db) == 0


def test_a_gpc_signal_from_a_visitor_who_is_not_signed_in_records_nothing(client, db, customer):
    client.get("/portal/sign-in", headers={"Sec-GPC": "1"})

    assert event_count(db) == 0
