"""Names of audited actions and outcomes.

Every action the application records is a constant here, and only here
(``tests/audit/test_actions.py`` checks that no other module spells one
out). A name is ``area.verb``: lower case, dots and hyphens
(:data:`ACTION_PATTERN`). A new feature adds its names to this file.
"""

from __future__ import annotations

import re

ACTION_PATTERN = re.compile(r"^[a-z][a-z0-9.-]{1,63}$")
OUTCOME_PATTERN = re.compile(r"^[a-z][a-z-]{0,15}$")

# Outcomes.
SUCCESS = "success"
FAILURE = "failure"  # the action was attempted and failed (wrong password, bad TOTP, ...)
DENIED = "denied"  # refused by a rule: missing role, missing reason, rate limit

# Staff accounts and sessions.
STAFF_SIGN_IN = "staff.sign-in"
STAFF_SIGN_IN_FAILED = "staff.sign-in-failed"
STAFF_SIGN_OUT = "staff.sign-out"
STAFF_CREATED = "staff.created"
STAFF_ROLE_CHANGED = "staff.role-changed"
STAFF_DEACTIVATED = "staff.deactivated"
STAFF_PASSWORD_SET = "staff.password-set"
STAFF_PASSWORD_LINK_ISSUED = "staff.password-link-issued"
STAFF_TOTP_ENROLLED = "staff.totp-enrolled"
STAFF_ACCESS_DENIED = "staff.access-denied"  # a screen outside the staff member's role
STAFF_SESSION_ENDED = "staff.session-ended"  # from the sessions page: one's own, or by an admin

# Customer records.
CUSTOMER_SEARCH = "customer.search"
CUSTOMER_VIEW = "customer.view"
CUSTOMER_REVEAL = "customer.reveal"
CUSTOMER_CREATED = "customer.created"
CUSTOMER_RECTIFIED = "customer.rectified"
CUSTOMER_HISTORY_ADDED = "customer.history-added"
CUSTOMER_RESTRICTED = "customer.restricted"
CUSTOMER_UNRESTRICTED = "customer.unrestricted"
CUSTOMER_ERASED = "customer.erased"

# Consent ledger.
CONSENT_GRANTED = "consent.granted"
CONSENT_WITHDRAWN = "consent.withdrawn"
CONSENT_REFUSED = "consent.refused"  # a Global Privacy Control opt-out before any consent
CONSENT_OBJECTED = "consent.objected"
CONSENT_RENEWAL_REQUIRED = "consent.renewal-required"

# Policies and keys.
POLICY_PUBLISHED = "policy.published"
KEYS_ROTATE_MASTER = "keys.rotate-master"
KEYS_ROTATE_DATA = "keys.rotate-data"

# Customer portal.
PORTAL_SIGN_IN = "portal.sign-in"
PORTAL_SIGN_IN_FAILED = "portal.sign-in-failed"
PORTAL_SIGNED_OUT_EVERYWHERE = "portal.signed-out-everywhere"  # every session ended
PORTAL_EMAIL_CHANGE_REQUESTED = "portal.email-change-requested"  # link mailed to the new address
PORTAL_EMAIL_CHANGE_FAILED = "portal.email-change-failed"  # a bad, used or expired link, or a taken address

# API.
API_CUSTOMER_READ = "api.customer.read"
API_CUSTOMER_LOOKUP = "api.customer.lookup"
API_CLIENT_CREATED = "api-client.created"
API_CLIENT_REVOKED = "api-client.revoked"

# Data-subject requests (GDPR Arts. 15-21): ``request.<event>``.
REQUEST_PREFIX = "request."
REQUEST_RECEIVED = "request.received"
REQUEST_IDENTITY_VERIFIED = "request.identity-verified"
REQUEST_STARTED = "request.started"  # approved by the DPO, or taken up: in progress
REQUEST_EXTENDED = "request.extended"  # Art. 12(3): up to two further months, with a reason
REQUEST_COMPLETED = "request.completed"
REQUEST_REJECTED = "request.rejected"  # refused with a reason code (Art. 12(4))
REQUEST_WITHDRAWN = "request.withdrawn"
CUSTOMER_EXPORTED = "customer.exported"  # the Art. 15/20 export was handed out
LEGAL_HOLD_PLACED = "legal-hold.placed"  # Art. 17(3): erasure held back, with its exception
LEGAL_HOLD_LIFTED = "legal-hold.lifted"

# The audit trail itself.
AUDIT_CHECKPOINT = "audit.checkpoint"
AUDIT_EXPORTED = "audit.exported"

# What the change feed (GET /api/v1/events) tells downstream systems.
# GDPR Art. 19: rectification, erasure and restriction reach every recipient.
FEED_ACTIONS = (CONSENT_GRANTED, CONSENT_WITHDRAWN, CONSENT_REFUSED, CONSENT_OBJECTED,
                CUSTOMER_RECTIFIED, CUSTOMER_RESTRICTED, CUSTOMER_UNRESTRICTED, CUSTOMER_ERASED,
                REQUEST_RECEIVED, REQUEST_IDENTITY_VERIFIED, REQUEST_STARTED, REQUEST_EXTENDED,
                REQUEST_COMPLETED, REQUEST_REJECTED, REQUEST_WITHDRAWN)

# What the customer's "Who has accessed my data" page lists: a staff member
# looking at their record or revealing one of its fields.
STAFF_ACCESS_ACTIONS = (CUSTOMER_VIEW, CUSTOMER_REVEAL)


def is_valid_action(name: str) -> bool:
    """True if ``name`` is a well-formed action name."""
    return isinstance(name, str) and bool(ACTION_PATTERN.match(name)) and ".." not in name
