"""Names of audited actions and outcomes.

The set is open: any name matching :data:`ACTION_PATTERN` can be recorded
(``area.verb``, lower case, dots and hyphens), so a new feature does not
have to edit this file first. The constants below are the names the
application uses; prefer them to string literals so a typo fails at import.
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
CONSENT_OBJECTED = "consent.objected"
CONSENT_RENEWAL_REQUIRED = "consent.renewal-required"

# Policies and keys.
POLICY_PUBLISHED = "policy.published"
KEYS_ROTATE_MASTER = "keys.rotate-master"
KEYS_ROTATE_DATA = "keys.rotate-data"

# Customer portal.
PORTAL_SIGN_IN = "portal.sign-in"
PORTAL_SIGN_IN_FAILED = "portal.sign-in-failed"

# API.
API_CUSTOMER_READ = "api.customer.read"
API_CLIENT_CREATED = "api-client.created"
API_CLIENT_REVOKED = "api-client.revoked"

# Data-subject requests (GDPR Arts. 15-21): ``request.<event>``.
REQUEST_PREFIX = "request."
REQUEST_RECEIVED = "request.received"
REQUEST_COMPLETED = "request.completed"
REQUEST_REJECTED = "request.rejected"

# The audit trail itself.
AUDIT_CHECKPOINT = "audit.checkpoint"

# What the customer's "Who has accessed my data" page lists: a staff member
# looking at their record or revealing one of its fields.
STAFF_ACCESS_ACTIONS = (CUSTOMER_VIEW, CUSTOMER_REVEAL)


def is_valid_action(name: str) -> bool:
    """True if ``name`` is a well-formed action name."""
    return isinstance(name, str) and bool(ACTION_PATTERN.match(name)) and ".." not in name
