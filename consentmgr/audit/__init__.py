"""The tamper-evident audit trail.

- :mod:`consentmgr.audit.services` — the public face other areas import:
  re-exports the three modules below;
- :mod:`consentmgr.audit.record` — ``record`` an entry (in the caller's
  transaction), validated, its client address hashed; ``record_export``;
- :mod:`consentmgr.audit.queries` — entries for a customer, the DPO's search,
  ``feed_entries`` for the change feed;
- :mod:`consentmgr.audit.verify` — ``verify_chain``, ``create_checkpoint``,
  list and load checkpoints;
- :mod:`consentmgr.audit.actions` — the action names and outcomes;
- :mod:`consentmgr.audit.chain` — canonical encoding, hashing, verification;
- :mod:`consentmgr.audit.checkpoints` — Ed25519-signed checkpoints;
- :mod:`consentmgr.audit.models` — the tables.

Entries hold ids and field names, never personal values.
"""
