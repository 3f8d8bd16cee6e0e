"""What the portal's pages show, assembled from the services of several areas.

Read-only composition, so the views stay a few lines: the customer's record,
the policy in effect, the consent ledger and the history, joined per purpose,
and the customer's data-subject requests.
"""

from __future__ import annotations

from dataclasses import dataclass

from consentmgr.consent.models import ConsentEvent, ConsentStatus
from consentmgr.consent.services import PurposeChoice, catalogue, consent_overview, events_for
from consentmgr.customers.models import Customer, HistoryEntry
from consentmgr.customers.services import get_customer
from consentmgr.i18n import current_language
from consentmgr.policies.document import DataCategory, PolicyDocument, Purpose
from consentmgr.policies.models import PolicyVersion
from consentmgr.policies.services import document_of, get_version
from consentmgr.requests.models import DataSubjectRequest, RequestType
from consentmgr.requests.services import complaint_text, kept_categories, requests_of


@dataclass(frozen=True)
class PurposeRow:
    """One purpose of the policy in effect, with where the customer stands."""

    choice: PurposeChoice
    purpose: Purpose

    @property
    def slug(self) -> str:
        """The purpose's stable slug."""
        return self.purpose.slug

    @property
    def status(self) -> str:
        """The customer's status for this purpose (given, not-given, renewal-required, ...)."""
        return self.choice.decision.status

    @property
    def renewal_required(self) -> bool:
        """Consent was given under a notice that has since changed materially."""
        return self.status == ConsentStatus.RENEWAL_REQUIRED

    @property
    def expired(self) -> bool:
        """Consent was given for a limited time, and that time is over: asked again."""
        return self.status == ConsentStatus.EXPIRED

    @property
    def asked_again(self) -> bool:
        """Consent was given once but no longer counts (a changed notice, or its term ended)."""
        return self.renewal_required or self.expired


@dataclass(frozen=True)
class PolicyContext:
    """The policy version a page is based on, and its parsed document."""

    version: PolicyVersion
    document: PolicyDocument
    rows: list[PurposeRow]


def _policy_context(customer: Customer) -> PolicyContext:
    # The ledger's catalogue decides which version is in effect; the document
    # of that same version supplies the texts, so they always agree.
    version = get_version(catalogue().version)
    document = document_of(version, current_language())  # the page's language, else English
    rows = [PurposeRow(choice, purpose)
            for choice in consent_overview(customer)
            if (purpose := document.purpose(choice.info.slug)) is not None]
    return PolicyContext(version=version, document=document, rows=rows)


@dataclass(frozen=True)
class MyData:
    """Everything held about a customer, with the GDPR Art. 15 information per purpose."""

    customer: Customer
    history: list[HistoryEntry]
    policy: PolicyContext


def my_data(customer: Customer) -> MyData:
    """The "My data" page: fields, preferences, history and every purpose."""
    full = get_customer(customer.id, with_history=True)
    return MyData(customer=full, history=list(full.history), policy=_policy_context(full))


@dataclass(frozen=True)
class EventRow:
    """One consent event in the customer's history, with its purpose's title."""

    event: ConsentEvent
    purpose_title: str


@dataclass(frozen=True)
class ConsentPage:
    """The "Consents" page: one control per purpose, and the history of choices."""

    policy: PolicyContext
    events: list[EventRow]


def consent_page(customer: Customer) -> ConsentPage:
    """The purposes in effect with the customer's decisions, and their events newest first."""
    policy = _policy_context(customer)
    titles = {row.slug: row.purpose.title for row in policy.rows}
    events = [EventRow(event, titles.get(event.purpose, event.purpose))
              for event in events_for(customer)]
    return ConsentPage(policy=policy, events=events)


@dataclass(frozen=True)
class ErasureStatement:
    """What an erasure deletes and what the law makes us keep, from the policy in effect."""

    deleted: list[DataCategory]
    kept: list[DataCategory]


@dataclass(frozen=True)
class RequestsPage:
    """The "My requests" page: the customer's requests, and what they may ask for."""

    requests: list[DataSubjectRequest]
    objectable: list[tuple[str, str]]
    erasure: ErasureStatement
    open_erasure: DataSubjectRequest | None
    document: PolicyDocument
    #: The right to complain, naming the supervisory authority (Art. 77), for refusals.
    complaint: str


def requests_page(customer: Customer) -> RequestsPage:
    """The customer's requests (newest first), the purposes one may object to, the erasure terms."""
    policy = _policy_context(customer)
    found = requests_of(customer)
    kept = set(kept_categories(policy.document))
    return RequestsPage(
        requests=found,
        # GDPR Art. 21(1): an objection is to a use based on legitimate interests.
        objectable=[(row.slug, row.purpose.title) for row in policy.rows
                    if row.purpose.legal_basis == "legitimate-interest"],
        erasure=ErasureStatement(
            deleted=[c for c in policy.document.data_categories if c.slug not in kept],
            kept=[c for c in policy.document.data_categories if c.slug in kept]),
        open_erasure=next((r for r in found
                           if r.type == RequestType.ERASURE and r.is_open), None),
        document=policy.document,
        complaint=complaint_text(),
    )
