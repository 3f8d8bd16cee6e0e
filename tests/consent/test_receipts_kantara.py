"""Receipts against the Kantara Consent Receipt Specification v1.1's required fields.

The check below is written from the specification (v1.1.0, 2018-02-20, its
JSON schema): the fields marked MUST, with their JSON types. ``address`` is
an object since v1.1 (schema.org PostalAddress names), and ``phone`` is
required of every PII controller.
"""

from __future__ import annotations

from typing import Any

import pytest

from consentmgr.consent import services
from consentmgr.consent.receipts import RECEIPT_TYPE, receipt_claims, verify_receipt
from consentmgr.crypto.signing import jws_sign
from consentmgr.runtime import runtime
from tests.consent.conftest import CUSTOMER_ACTOR
from tests.policies.policy_files import valid_front_matter, write_policy

OBJECT, ARRAY, STRING, INTEGER, BOOLEAN = dict, list, str, int, bool

# field -> JSON type, or a nested requirement: (type, {required fields of each element}).
PURPOSE = {"purpose": STRING, "purposeCategory": ARRAY, "consentType": STRING,
           "piiCategory": ARRAY, "termination": STRING, "thirdPartyDisclosure": BOOLEAN}
ADDRESS = {"streetAddress": STRING, "addressCountry": STRING}
PII_CONTROLLER = {"piiController": STRING, "contact": STRING, "address": (OBJECT, ADDRESS),
                  "email": STRING, "phone": STRING}
SERVICE = {"service": STRING, "purposes": (ARRAY, PURPOSE)}
RECEIPT = {"version": STRING, "jurisdiction": STRING, "consentTimestamp": INTEGER,
           "collectionMethod": STRING, "consentReceiptID": STRING, "piiPrincipalId": STRING,
           "piiControllers": (ARRAY, PII_CONTROLLER), "policyUrl": STRING,
           "services": (ARRAY, SERVICE), "sensitive": BOOLEAN, "spiCat": ARRAY}


def missing_or_wrong(value: Any, required: dict[str, Any], path: str = "") -> list[str]:
    """Every required field absent or of the wrong JSON type, by its path."""
    found = []
    for name, expected in required.items():
        where = f"{path}{name}"
        if name not in value:
            found.append(f"{where}: missing")
            continue
        kind, inner = expected if isinstance(expected, tuple) else (expected, None)
        item = value[name]
        if not isinstance(item, kind) or (kind is INTEGER and isinstance(item, bool)):
            found.append(f"{where}: not {kind.__name__}")
        elif inner is not None and kind is ARRAY:
            if not item:
                found.append(f"{where}: empty")
            for index, element in enumerate(item):
                found += missing_or_wrong(element, inner, f"{where}[{index}].")
        elif inner is not None:
            found += missing_or_wrong(item, inner, f"{where}.")
    return found


def test_the_checker_finds_what_v1_0_receipts_lacked():
    old_controller = {"piiController": "X", "contact": "Y", "address": "Street 1", "email": "e"}

    assert missing_or_wrong(old_controller, PII_CONTROLLER) == ["address: not dict",
                                                                "phone: missing"]


def test_a_receipt_has_every_field_v1_1_requires(db, policies, create_customer):
    event = services.grant_consent(create_customer(), "personalisation", actor=CUSTOMER_ACTOR,
                                   channel="portal")

    assert missing_or_wrong(receipt_claims(event), RECEIPT) == []


@pytest.fixture
def policy_with_contact(db, tmp_path):
    """A version whose controller states a phone number and the address in parts."""
    from consentmgr.policies.services import publish_policies

    data = valid_front_matter()
    data["controller"]["phone"] = "+49 30 1234 5678"
    data["controller"]["postal_address"] = {
        "street_address": "Lindenstraße 42", "postal_code": "10969", "locality": "Berlin",
        "country": "DE"}
    write_policy(tmp_path, data)
    publish_policies(tmp_path, actor=CUSTOMER_ACTOR)
    db.session.commit()


def test_the_controller_phone_and_address_come_from_the_policy(db, policy_with_contact,
                                                               create_customer):
    event = services.grant_consent(create_customer(), "marketing-email", actor=CUSTOMER_ACTOR,
                                   channel="portal")
    controller = receipt_claims(event)["piiControllers"][0]

    assert controller["phone"] == "+49 30 1234 5678"
    assert controller["address"] == {"streetAddress": "Lindenstraße 42", "postalCode": "10969",
                                     "addressLocality": "Berlin", "addressCountry": "DE"}


@pytest.fixture
def older_policy(db, tmp_path):
    """A version published without phone and address parts (as before v1.1 receipts)."""
    from consentmgr.policies.services import publish_policies

    data = valid_front_matter()
    data["controller"]["address"] = "Street 1\n10115 Berlin\nGermany"
    write_policy(tmp_path, data)
    publish_policies(tmp_path, actor=CUSTOMER_ACTOR)
    db.session.commit()


def test_a_version_without_them_still_gives_a_receipt_with_every_required_field(
        db, older_policy, create_customer):
    event = services.grant_consent(create_customer(), "marketing-email", actor=CUSTOMER_ACTOR,
                                   channel="portal")
    claims = receipt_claims(event)

    assert missing_or_wrong(claims, RECEIPT) == []
    controller = claims["piiControllers"][0]
    assert controller["address"] == {"streetAddress": "Street 1, 10115 Berlin",
                                     "addressCountry": "Germany"}
    assert controller["phone"] == ""


def test_a_receipt_issued_with_the_old_string_address_still_verifies(db, policies,
                                                                     create_customer):
    event = services.grant_consent(create_customer(), "personalisation", actor=CUSTOMER_ACTOR,
                                   channel="portal")
    claims = receipt_claims(event)
    old_controller = {key: value for key, value in claims["piiControllers"][0].items()
                      if key != "phone"}
    old_controller["address"] = "Lindenstraße 42\n10969 Berlin\nGermany"
    key = runtime().settings.receipt_signing_key
    issued_before = jws_sign({**claims, "piiControllers": [old_controller]}, key,
                             header={"typ": RECEIPT_TYPE})

    assert verify_receipt(issued_before)["piiControllers"][0]["address"].startswith("Linden")
