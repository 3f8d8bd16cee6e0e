"""The API answers programs: its messages stay English whatever language they accept."""

from __future__ import annotations


def test_a_german_accept_language_still_gets_english_problems(client, bearer, customer_payload):
    body = customer_payload()
    body["phone"] = "call me maybe"
    body.setdefault("preferences", {})["language"] = "tlh"

    response = client.post("/api/v1/customers", json=body,
                           headers={**bearer, "Accept-Language": "de-DE,de;q=0.9"})

    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    text = response.get_data(as_text=True)
    assert "Enter a phone number of digits" in text
    assert "Unknown language: choose from" in text
    assert "Geben Sie" not in text and "Unbekannte" not in text
    assert "Content-Language" not in response.headers
