"""``/.well-known/jwks.json``: the public keys that verify consent receipts.

A separate blueprint without a URL prefix, because the path is fixed by
RFC 8615 and sits outside ``/portal``. Publishing the keys lets a customer
(or a court) check a receipt without trusting us or this application: every
configured receipt key, the signing one first, each under its ``kid``, so
receipts signed before a rotation stay checkable. Audit checkpoint keys are
not published here: checkpoints are for the operator and the auditor, who
check them with ``flask audit verify`` against the configured ring.
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from consentmgr.consent.receipts import jwks
from consentmgr.runtime import runtime

wellknown = Blueprint("wellknown", __name__)


def jwks_json():
    """The JSON Web Key Set with every receipt public key."""
    response = jsonify(jwks(signing_key=runtime().settings.receipt_signing_keys))
    response.mimetype = "application/jwk-set+json"
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


wellknown.add_url_rule("/.well-known/jwks.json", "jwks", jwks_json, methods=["GET"])
