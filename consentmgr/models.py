"""Imports every model so the metadata is complete (migrations, tests)."""

from consentmgr.customers.models import Customer, HistoryEntry  # noqa: F401
from consentmgr.keys.models import DataKey  # noqa: F401
from consentmgr.policies.models import PolicyPurpose, PolicyVersion  # noqa: F401
from consentmgr.notices.models import PolicyNotice  # noqa: F401
from consentmgr.audit.models import AuditCheckpoint, AuditEntry, AuditHead  # noqa: F401
from consentmgr.consent.models import ConsentEvent, ConsentState  # noqa: F401
from consentmgr.apiclients.models import ApiClient, ExternalRef, IdempotencyRecord  # noqa: F401
from consentmgr.staff.models import PasswordToken, StaffUser  # noqa: F401
from consentmgr.customers.signin import PortalSignInToken  # noqa: F401
from consentmgr.customers.email_change import PortalEmailChange  # noqa: F401
from consentmgr.requests.models import DataSubjectRequest, LegalHold  # noqa: F401
from consentmgr.sessions.models import WebSession  # noqa: F401
from consentmgr.jobs.models import Job, JobSchedule  # noqa: F401
from consentmgr.mail.models import OutboxMessage  # noqa: F401
from consentmgr.breaches.models import Breach, BreachRecipient  # noqa: F401
from consentmgr.dashboard.models import AggregateWatermark, DailyAggregate  # noqa: F401
from consentmgr.webhooks.models import WebhookCursor, WebhookDelivery, WebhookSubscription  # noqa: F401
