"""The "My data" page: every field held, the history, and GDPR Art. 15 information per purpose."""

from __future__ import annotations

import html

from consentmgr.customers.services import add_history
from consentmgr.policies.services import current_version, document_of
from tests.conftest import TEST_ACTOR


def page_text(client, path: str = "/portal/") -> str:
    response = client.get(path)
    assert response.status_code == 200
    return html.unescape(response.get_data(as_text=True))


def test_every_field_held_is_shown_decrypted(client, signed_in):
    page = page_text(client)

    for value in ("Ada Lovelace", "ada@example.org", "+44 20 7946 0958", "1 Example Street",
                  "London", "12 April 1985", str(signed_in.id)):
        assert value in page


def test_preferences_are_shown(client, signed_in):
    page = page_text(client)

    assert "Email" in page and "English" in page and "garden" in page


def test_history_entries_are_shown_with_their_details(client, db, signed_in):
    add_history(signed_in, {"occurred_at": "2026-02-01T10:00:00Z", "channel": "phone",
                            "kind": "support-contact", "data_category": "support-history",
                            "summary": "Asked about a late parcel",
                            "details": {"ticket": "T-4711"}}, actor=TEST_ACTOR)
    db.session.commit()

    page = page_text(client)

    assert "Asked about a late parcel" in page and "T-4711" in page
    assert "Customer service history" in page  # the data category's title from the policy


def test_each_purpose_has_what_article_15_requires(client, signed_in):
    document = document_of(current_version())

    page = page_text(client)

    for purpose in document.purposes:
        assert purpose.title in page
        assert purpose.retention in page
        for recipient in purpose.recipients:
            assert recipient in page
    assert "We need it to enter into or carry out our contract with you" in page  # plain words
    assert "Our legitimate interest" in page and "Where the data comes from" in page


def test_rights_and_how_to_complain_are_stated(client, signed_in):
    page = page_text(client)

    assert "Your rights" in page and "supervisory authority" in page
    assert "Dr. Miriam Ostrowski" in page and "dpo@northwind-goods.example" in page


def test_the_page_states_the_policy_version_it_is_based_on(client, signed_in):
    assert "version 2026-03 of our privacy policy" in page_text(client)


def test_another_customers_data_is_never_shown(client, create_customer, signed_in):
    other = create_customer(name="Grace Hopper", email="grace@example.org")

    page = page_text(client)

    assert "Grace Hopper" not in page and "grace@example.org" not in page and str(other.id) not in page


def test_portal_pages_are_not_cached(client, signed_in):
    assert client.get("/portal/").headers["Cache-Control"] == "no-store"
