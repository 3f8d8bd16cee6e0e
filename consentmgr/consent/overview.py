"""The customer's view of their choices: every purpose, where they stand, what they can do."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from consentmgr.consent.catalogue import PurposeInfo, catalogue
from consentmgr.consent.checks import ConsentDecision, decide
from consentmgr.consent.ledger import current_states
from consentmgr.consent.models import ConsentStatus
from consentmgr.customers.models import Customer


@dataclass(frozen=True)
class PurposeChoice:
    """One purpose as the customer sees it: what it is, where they stand, what they can do."""

    info: PurposeInfo
    decision: ConsentDecision

    @property
    def can_grant(self) -> bool:
        """A consent purpose not currently given (or given under an old notice)."""
        return self.info.legal_basis == "consent" and not self.decision.allowed

    @property
    def can_withdraw(self) -> bool:
        """A consent purpose currently given."""
        return self.info.legal_basis == "consent" and self.decision.status in (
            ConsentStatus.GIVEN, ConsentStatus.RENEWAL_REQUIRED)

    @property
    def can_object(self) -> bool:
        """A legitimate-interest purpose not yet objected to."""
        return self.info.legal_basis == "legitimate-interest" and self.decision.status != "objected"


def consent_overview(customer: Customer, *, today: dt.date | None = None,
                     now: dt.datetime | None = None) -> list[PurposeChoice]:
    """Every purpose in effect with the customer's decision, in policy order.

    ``now`` (default: the clock) decides expiry, and the policy in effect unless ``today`` is given.
    """
    cat = catalogue(today or (now.date() if now is not None else None))
    states = current_states(customer)
    return [PurposeChoice(info, decide(info, cat, customer.id, customer.status, states.get(slug),
                                       now=now))
            for slug, info in cat.purposes.items()]
