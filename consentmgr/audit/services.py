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
    customers_accessed_by,
    entries_for_customer,
    feed_entries,
    search_entries,
)
from consentmgr.audit.record import (
    MAX_JUSTIFICATION,
    InvalidAuditEntry,
    hash_client_address,
    insert_pending_after,
    pending_entry_params,
    record,
    record_export,
)
from consentmgr.audit.sequencer import sequenced_inline
from consentmgr.audit.verify import (
    ChainBroken,
    checkpoints_by_key,
    create_checkpoint,
    list_checkpoints,
    load_checkpoint,
    verify_chain,
)

__all__ = [
    "MAX_JUSTIFICATION", "MAX_SEARCH_LIMIT", "ChainBroken", "CheckpointFormatError",
    "InvalidAuditEntry", "SignedCheckpoint", "VerifyResult", "checkpoints_by_key", "count_entries",
    "create_checkpoint", "customers_accessed_by",
    "entries_for_customer", "feed_entries", "hash_client_address", "insert_pending_after",
    "list_checkpoints", "load_checkpoint", "pending_entry_params", "record", "record_export",
    "search_entries", "sequenced_inline", "verify_chain",
]
