"""The audit area's public face: what other areas call to write and read the trail.

- :mod:`consentmgr.audit.record` — append an entry (validated, hash-linked);
- :mod:`consentmgr.audit.queries` — entries for a customer, the DPO's search,
  the change feed's entries;
- :mod:`consentmgr.audit.verify` — verify the chain, sign checkpoints.
"""

from __future__ import annotations

from consentmgr.audit.chain import VerifyResult
from consentmgr.audit.checkpoints import CheckpointFormatError, SignedCheckpoint
from consentmgr.audit.queries import (
    MAX_SEARCH_LIMIT,
    count_entries,
    entries_for_customer,
    feed_entries,
    search_entries,
)
from consentmgr.audit.record import (
    MAX_JUSTIFICATION,
    InvalidAuditEntry,
    hash_client_address,
    record,
    record_export,
)
from consentmgr.audit.verify import (
    ChainBroken,
    create_checkpoint,
    list_checkpoints,
    load_checkpoint,
    verify_chain,
)

__all__ = [
    "MAX_JUSTIFICATION", "MAX_SEARCH_LIMIT", "ChainBroken", "CheckpointFormatError",
    "InvalidAuditEntry", "SignedCheckpoint", "VerifyResult", "count_entries",
    "create_checkpoint", "entries_for_customer", "feed_entries", "hash_client_address",
    "list_checkpoints", "load_checkpoint", "record", "record_export", "search_entries",
    "verify_chain",
]
