"""The consent area's public face: what the web, the API and the CLI call.

- :mod:`consentmgr.consent.catalogue` — the purposes in effect (cached);
- :mod:`consentmgr.consent.checks` — "may I use this data for purpose P?";
- :mod:`consentmgr.consent.ledger` — record choices, GPC, read events back;
- :mod:`consentmgr.consent.expiry` — consent that lapses: its term, reminders, recorded expiry;
- :mod:`consentmgr.consent.overview` — every purpose as the customer sees it;
- :mod:`consentmgr.consent.feed` — the change feed for downstream systems;
- :mod:`consentmgr.consent.receipts` — signed consent receipts.
"""

from __future__ import annotations

from consentmgr.consent.catalogue import (
    Catalogue,
    NoPolicyPublished,
    PurposeInfo,
    UnknownPurpose,
    catalogue,
    forget_catalogues,
    purpose_info,
)
from consentmgr.consent.checks import ConsentDecision, check_consent, check_many, decide
from consentmgr.consent.expiry import ReminderRun, record_expiries, send_renewal_reminders
from consentmgr.consent.feed import FEED_ACTIONS, FeedItem, change_feed
from consentmgr.consent.ledger import (
    ChoiceSubject,
    ConsentNotApplicable,
    Evidence,
    choice_subject,
    current_states,
    events_for,
    get_event,
    gpc_honoured,
    grant_consent,
    honour_gpc,
    object_to_processing,
    record_choice,
    subject_for_write,
    withdraw_consent,
)
from consentmgr.consent.overview import PurposeChoice, consent_overview

__all__ = [
    "FEED_ACTIONS", "Catalogue", "ChoiceSubject", "ConsentDecision", "ConsentNotApplicable",
    "Evidence", "FeedItem", "NoPolicyPublished", "PurposeChoice", "PurposeInfo", "ReminderRun",
    "UnknownPurpose",
    "catalogue", "change_feed", "check_consent", "check_many", "choice_subject",
    "consent_overview", "current_states", "decide", "events_for", "forget_catalogues",
    "get_event", "gpc_honoured", "grant_consent", "honour_gpc", "object_to_processing",
    "purpose_info", "record_choice", "record_expiries", "send_renewal_reminders",
    "subject_for_write", "withdraw_consent",
]
