"""The controller's phone and address in parts: optional, checked when given, stored as given."""

from __future__ import annotations

from typing import Any

import pytest
from marshmallow import ValidationError

from consentmgr.policies.document import Controller, PostalAddress
from consentmgr.policies.schemas import PolicyHeaderSchema, field_problems
from tests.policies.policy_files import valid_front_matter

PARTS = {"street_address": "Street 1", "postal_code": "10115", "locality": "Berlin",
         "country": "DE"}


def _with_controller(**extra: Any) -> dict[str, Any]:
    data = valid_front_matter()
    data["controller"].update(extra)
    return data


def problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        PolicyHeaderSchema().load(data)
    return field_problems(caught.value.messages)


def test_phone_and_postal_address_load_to_typed_values():
    controller = PolicyHeaderSchema().load(
        _with_controller(phone="+49 30 1234 5678", postal_address=PARTS))["controller"]

    assert controller.phone == "+49 30 1234 5678"
    assert controller.postal_address == PostalAddress(**PARTS)


def test_a_header_without_them_still_loads():
    controller = PolicyHeaderSchema().load(valid_front_matter())["controller"]

    assert (controller.phone, controller.postal_address) == (None, None)


@pytest.mark.parametrize(("extra", "expected"), [
    ({"phone": "call us"}, ("controller.phone", "'call us' is not a phone number")),
    ({"postal_address": {**PARTS, "country": "Germany"}},
     ("controller.postal_address.country", "'Germany' is not an ISO 3166-1 alpha-2")),
    ({"postal_address": {**PARTS, "postal_code": 10115}},
     ("controller.postal_address.postal_code", "expected text, got the number 10115")),
    ({"postal_address": {k: v for k, v in PARTS.items() if k != "locality"}},
     ("controller.postal_address.locality", "missing required field")),
    ({"postal_address": {**PARTS, "city": "Berlin"}},
     ("controller.postal_address.city", "unknown field")),
])
def test_bad_contact_details_are_named_at_publication(extra, expected):
    found = problems(_with_controller(**extra))

    assert len(found) == 1
    assert found[0][0] == expected[0] and found[0][1].startswith(expected[1])


def test_a_controller_without_them_is_stored_exactly_as_before():
    old = Controller("Example GmbH", "Street 1\nBerlin", "privacy@example.test")

    assert old.to_dict() == {"name": "Example GmbH", "address": "Street 1\nBerlin",
                             "email": "privacy@example.test"}
    assert Controller.from_dict(old.to_dict()) == old


def test_a_controller_with_them_round_trips():
    new = Controller("Example GmbH", "Street 1\nBerlin", "privacy@example.test",
                     phone="+49 30 1", postal_address=PostalAddress(**PARTS, region="BE"))

    assert Controller.from_dict(new.to_dict()) == new
