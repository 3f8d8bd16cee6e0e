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
# A consent's term ended (consentmgr/consent/expiry.py): recorded by the worker, for the feed.
CONSENT_EXPIRED = "consent.expired"

# Policies and keys.
POLICY_PUBLISHED = "policy.published"
# A published version's text in another language (consentmgr/policies/publishing.py).
POLICY_TRANSLATION_PUBLISHED = "policy.translation-published"
POLICY_NOTICE_BATCH = "policy.notice-batch"  # a batch of notices of a material change: counts only
KEYS_ROTATE_MASTER = "keys.rotate-master"
KEYS_ROTATE_DATA = "keys.rotate-data"
KEYS_RETIRE_MASTER = "keys.retire-master"
KEYS_REINDEX = "keys.reindex"

# Retention (GDPR Art. 5(1)(e)): one entry per purged batch, with counts, never personal data.
RETENTION_PURGED = "retention.purged"
# The customer was told their unused account closes soon (requests/inactivity.py); not activity.
RETENTION_INACTIVITY_WARNED = "retention.inactivity-warned"

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

# The breach register (GDPR Art. 33/34): ids and counts only, never the register's text.
BREACH_RECORDED = "breach.recorded"
BREACH_AUTHORITY_NOTIFIED = "breach.authority-notified"  # Art. 33(1): the 72-hour notification
BREACH_NOTICE_DECIDED = "breach.notice-decided"  # Art. 34: must the people affected be told?
BREACH_CUSTOMER_NOTIFIED = "breach.customer-notified"  # one per customer mailed (subject: them)
BREACH_NOTICE_REQUESTED = "breach.notice-requested"  # the DPO asked the worker to tell customers
BREACH_NOTICE_FINISHED = "breach.notice-finished"  # a run is done: its counts
RECORDS_OF_PROCESSING_EXPORTED = "records-of-processing.exported"  # Art. 30: CSV or JSON taken

# Signed webhooks (consentmgr/webhooks/): subscription ids and counts, never a URL or secret.
WEBHOOK_REGISTERED = "webhook.registered"
WEBHOOK_UPDATED = "webhook.updated"
WEBHOOK_DELETED = "webhook.deleted"
WEBHOOK_SECRET_ROTATED = "webhook.secret-rotated"
WEBHOOK_REDELIVERED = "webhook.redelivered"  # dead letters sent again by an operator
# Webhook event types that stand for several actions above (consentmgr/webhooks/events.py);
# the others are sent under their action's own name (customer.rectified, policy.published, ...).
WEBHOOK_CONSENT_CHANGED = "consent.changed"  # granted, withdrawn, refused, objected, expired
WEBHOOK_REQUEST_STATUS_CHANGED = "request.status-changed"  # every request.* transition

# The audit trail itself.
AUDIT_CHECKPOINT = "audit.checkpoint"
AUDIT_EXPORTED = "audit.exported"

# What the change feed (GET /api/v1/events) tells downstream systems.
# GDPR Art. 19: rectification, erasure and restriction reach every recipient.
FEED_ACTIONS = (CONSENT_GRANTED, CONSENT_WITHDRAWN, CONSENT_REFUSED, CONSENT_OBJECTED,
                CUSTOMER_RECTIFIED, CUSTOMER_RESTRICTED, CUSTOMER_UNRESTRICTED, CUSTOMER_ERASED,
                REQUEST_RECEIVED, REQUEST_IDENTITY_VERIFIED, REQUEST_STARTED, REQUEST_EXTENDED,
                REQUEST_COMPLETED, REQUEST_REJECTED, REQUEST_WITHDRAWN)
FEED_ACTIONS += (CONSENT_EXPIRED,)  # downstream systems stop using a consent whose term ended

# What the customer's "Who has accessed my data" page lists: a staff member
# looking at their record or revealing one of its fields.
STAFF_ACCESS_ACTIONS = (CUSTOMER_VIEW, CUSTOMER_REVEAL)


def is_valid_action(name: str) -> bool:
    """True if ``name`` is a well-formed action name."""
    return isinstance(name, str) and bool(ACTION_PATTERN.match(name)) and ".." not in name
