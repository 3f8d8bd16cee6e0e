"""Signed consent receipts (Kantara Initiative Consent Receipt v1.1).

A receipt is the customer's own proof of a choice: the fields of the Kantara
Consent Receipt specification v1.1 for one consent event, signed with
Ed25519 as a compact JWS. The public keys are published at
``/.well-known/jwks.json`` so anyone can verify a receipt without us.

Receipt keys are a ring (``CONSENTMGR_RECEIPT_SIGNING_KEYS``): the first
signs, and every key in it verifies and is published, so a receipt issued
before a rotation still verifies as long as its key stays in the ring. The
JWS header's ``kid`` picks the key; a receipt whose key has left the ring
fails as "signed by an unknown key".

``piiControllers[]`` has every field v1.1 requires: ``piiController``,
``contact``, ``address`` (an object: ``streetAddress``, ``postalCode``,
``addressLocality``, ``addressCountry``), ``email`` and ``phone``, from the
policy version's front matter. Receipts issued before ``address`` became an
object still verify: verification checks the signature and the receipt's
identity, not the shape of its fields.

The receipt signing keys are an argument (``signing_key=``, one key or a
:class:`SigningKeyRing`): boundaries take them from the runtime's settings.
Without it, the ring configured for the app of the current session is used.
"""

from __future__ import annotations

import uuid
from typing import Any

from consentmgr.consent.models import Channel, ConsentEvent
from consentmgr.crypto.signing import (
    PrivateKey,
    SignatureInvalid,
    SigningKeyRing,
    UnknownSigningKey,
    jws_sign,
    jws_verify,
    public_jwk,
)
from consentmgr.extensions import db
from consentmgr.policies.document import Controller
from consentmgr.policies.services import document_of, get_version
from consentmgr.runtime import of_session

RECEIPT_VERSION = "KI-CR-v1.1.0"
RECEIPT_TYPE = "consent-receipt+jws"

_COLLECTION_METHODS = {
    Channel.PORTAL: "Privacy portal, signed in by a single-use email link",
    Channel.STAFF: "Recorded by a staff member on the customer's behalf",
    Channel.API: "Collected by a company system and sent through the API",
    Channel.IMPORT: "Imported from an earlier record of consent",
    Channel.EMAIL: "Unsubscribe link in an email, signed for this customer and purpose",
}


ReceiptKeys = PrivateKey | SigningKeyRing


def _signing_keys(given: ReceiptKeys | None) -> SigningKeyRing:
    # Boundaries pass the keys; without them, the app this session serves signs.
    if given is not None:
        return SigningKeyRing.of(given)
    return of_session(db.session).settings.receipt_signing_keys


def _signing_key(given: ReceiptKeys | None) -> PrivateKey:
    return _signing_keys(given).current


def _kantara_address(controller: Controller) -> dict[str, str]:
    """The controller's address as the v1.1 ``address`` object (schema.org PostalAddress names).

    A version published before policies gave the address in parts
    (``postal_address``) falls back to its printed address: every line but
    the last as ``streetAddress``, the last (the country, as written) as
    ``addressCountry``.
    """
    parts = controller.postal_address
    if parts is None:
        lines = [line.strip() for line in controller.address.splitlines() if line.strip()]
        return {"streetAddress": ", ".join(lines[:-1]) or controller.address,
                "addressCountry": lines[-1] if lines else ""}
    address = {"streetAddress": parts.street_address, "postalCode": parts.postal_code,
               "addressLocality": parts.locality, "addressCountry": parts.country}
    if parts.region is not None:
        address["addressRegion"] = parts.region
    return address


def _jurisdiction(address: str) -> str:
    # The controller's country, as written on the last line of its address.
    lines = [line.strip() for line in address.splitlines() if line.strip()]
    return lines[-1] if lines else "EU"


def receipt_claims(event: ConsentEvent, *, signing_key: ReceiptKeys | None = None
                   ) -> dict[str, Any]:
    """The Kantara CR v1.1 fields for ``event`` (plus a ``consentmgr`` extension).

    ``signing_key`` is the receipt key (or ring, whose first key signs) whose
    public half the receipt names.
    """
    links = of_session(db.session).links
    version = get_version(event.policy_version)
    # The purpose as the customer read it: in the language of the notice shown.
    document = document_of(version, event.language)
    purpose = document.purpose(event.purpose)
    categories = {c.slug: c for c in document.data_categories}
    pii_categories = [categories[slug].title if slug in categories else slug
                      for slug in (purpose.data_categories if purpose else ())]
    recipients = list(purpose.recipients) if purpose else []
    return {
        "version": RECEIPT_VERSION,
        "jurisdiction": _jurisdiction(document.controller.address),
        "consentTimestamp": int(event.occurred_at.timestamp()),
        "collectionMethod": _COLLECTION_METHODS[Channel(event.channel)],
        "consentReceiptID": str(event.id),
        "publicKey": public_jwk(_signing_key(signing_key))["x"],
        "language": event.language,
        # The customer's public id, never their email: the receipt may be shared.
        "piiPrincipalId": str(event.customer_id),
        "piiControllers": [{
            "piiController": document.controller.name,
            "onBehalf": False,
            "contact": document.dpo.name,
            "address": _kantara_address(document.controller),
            "email": document.controller.email,
            # Required by v1.1; a version published without a phone number gives "".
            "phone": document.controller.phone or "",
            "piiControllerUrl": links.home(),
        }],
        "policyUrl": links.policy(event.policy_version),
        "services": [{
            "service": f"{document.controller.name} customer account",
            "purposes": [{
                "purpose": purpose.title if purpose else event.purpose,
                "purposeCategory": [event.purpose],
                "consentType": "EXPLICIT",
                "piiCategory": pii_categories,
                "primaryPurpose": False,
                "termination": purpose.retention if purpose else "",
                "thirdPartyDisclosure": bool(recipients),
                "thirdPartyName": ", ".join(recipients),
            }],
        }],
        "sensitive": False,
        "spiCat": [],
        "consentmgr": {
            "action": str(event.action),
            "status": str(event.status),
            "policyVersion": event.policy_version,
            "noticeHash": event.notice_hash,
            "channel": str(event.channel),
            "gpc": bool(event.gpc),
        },
    }


def issue_receipt(event: ConsentEvent, *, signing_key: ReceiptKeys | None = None) -> str:
    """The signed receipt for ``event`` as a compact JWS, signed with ``signing_key``.

    Given a ring, its first key signs.
    """
    key = _signing_key(signing_key)
    return jws_sign(receipt_claims(event, signing_key=key), key, header={"typ": RECEIPT_TYPE})


def verify_receipt(token: str, *, signing_key: ReceiptKeys | None = None) -> dict[str, Any]:
    """Verify a receipt against our receipt keys (``signing_key``) and return its claims.

    The key is picked by the receipt's ``kid``, from every key of the ring:
    receipts signed before a rotation still verify. Raises
    :class:`SignatureInvalid` (with a reason) if it was altered, signed by a
    key not in the ring (:class:`UnknownSigningKey`), or is not a receipt.
    """
    ring = _signing_keys(signing_key)
    try:
        verified = jws_verify(token.strip(), ring.verifying_keys())
    except UnknownSigningKey as exc:
        raise UnknownSigningKey(
            f"it is signed by an unknown key (kid {exc.kid!r}), not by any of our receipt "
            "signing keys", kid=exc.kid) from None
    claims = verified.json()
    if not isinstance(claims, dict) or claims.get("version") != RECEIPT_VERSION:
        raise SignatureInvalid("this is not a consent receipt")
    try:
        uuid.UUID(str(claims.get("consentReceiptID")))
    except ValueError:
        raise SignatureInvalid("the receipt has no valid receipt id") from None
    return claims


def jwks(*, signing_key: ReceiptKeys | None = None) -> dict[str, Any]:
    """The JSON Web Key Set of every receipt key (``signing_key``): the signing key first.

    Keys that only verify are published too: receipts signed before a
    rotation must stay checkable by anyone, not only by us.
    """
    return _signing_keys(signing_key).jwks()
