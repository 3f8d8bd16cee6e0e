"""Which history survives an erasure because the law requires it to be kept (GDPR Art. 17(3)(b)).

The rule, read from the policy in effect:

* A history entry is kept when its data category is listed by a purpose
  whose legal basis is ``legal-obligation`` (in the shipped policy:
  "Accounting and tax", which lists ``order-history`` and
  ``payment-references``), the category has a retention period
  (``retention_days`` > 0), and that period, counted from the entry's
  ``occurred_at``, has not ended yet.
* The account categories (:data:`ACCOUNT_CATEGORIES`: what the customer
  record's own fields hold -- name and date of birth, addresses and phone,
  preferences) are never kept: their retention is counted from the closing
  of the account, and an erasure closes it now.

Kept entries stay encrypted under the customer's data key, the record is
restricted (every consent check answers ``restricted``) and its
``retained_until`` is the end of the longest period: after that,
:func:`consentmgr.requests.services.purge_expired_retention` erases the
rest by crypto-shredding.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from consentmgr.customers.models import Customer, HistoryEntry
from consentmgr.extensions import db
from consentmgr.policies.document import PolicyDocument
from consentmgr.policies.services import PolicyNotFound, current_version, document_of

#: Categories of the customer record's own fields, erased with the account.
ACCOUNT_CATEGORIES = frozenset({"identity", "contact", "preferences"})
LEGAL_OBLIGATION = "legal-obligation"


@dataclass(frozen=True)
class KeptCategory:
    """A data category kept after erasure, and for how long from each event."""

    slug: str
    title: str
    retention: str
    retention_days: int


@dataclass(frozen=True)
class RetentionPlan:
    """What an erasure keeps: entry ids, until when, and the categories they belong to."""

    kept_ids: tuple
    retained_until: dt.datetime | None
    categories: tuple[KeptCategory, ...]

    @property
    def keeps_anything(self) -> bool:
        """True if some history must survive the erasure."""
        return bool(self.kept_ids)


def kept_categories(document: PolicyDocument) -> dict[str, KeptCategory]:
    """The categories ``document`` says must be kept for a legal obligation, by slug."""
    slugs = {slug for purpose in document.purposes if purpose.legal_basis == LEGAL_OBLIGATION
             for slug in purpose.data_categories}
    kept = {}
    for slug in sorted(slugs - ACCOUNT_CATEGORIES):
        category = document.data_category(slug)
        if category is not None and category.retention_days > 0:
            kept[slug] = KeptCategory(slug, category.title, category.retention,
                                      category.retention_days)
    return kept


def _policy_in_effect(now: dt.datetime) -> PolicyDocument | None:
    try:
        return document_of(current_version(now.date()))
    except PolicyNotFound:
        return None


def retention_plan(customer: Customer, *, now: dt.datetime) -> RetentionPlan:
    """Which of ``customer``'s history entries an erasure at ``now`` must keep."""
    document = _policy_in_effect(now)
    categories = kept_categories(document) if document is not None else {}
    if not categories:
        return RetentionPlan((), None, ())
    rows = db.session.execute(
        sa.select(HistoryEntry.id, HistoryEntry.data_category, HistoryEntry.occurred_at)
        .where(HistoryEntry.customer_id == customer.id,
               HistoryEntry.data_category.in_(list(categories)))).all()
    kept_ids, used, until = [], set(), None
    for entry_id, slug, occurred_at in rows:
        ends = occurred_at + dt.timedelta(days=categories[slug].retention_days)
        if ends > now:
            kept_ids.append(entry_id)
            used.add(slug)
            until = ends if until is None or ends > until else until
    return RetentionPlan(tuple(kept_ids), until,
                         tuple(categories[slug] for slug in sorted(used)))
