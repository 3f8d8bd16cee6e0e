"""Imports every model so the metadata is complete (migrations, tests)."""

from consentmgr.customers.models import Customer, HistoryEntry  # noqa: F401
from consentmgr.keys.models import DataKey  # noqa: F401
