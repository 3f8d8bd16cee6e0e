"""The tamper-evident audit trail.

- :mod:`consentmgr.audit.services` — ``record`` an entry (in the caller's
  transaction), read entries for a customer or the DPO, ``verify_chain``,
  ``create_checkpoint``;
- :mod:`consentmgr.audit.actions` — the action names and outcomes;
- :mod:`consentmgr.audit.chain` — canonical encoding, hashing, verification;
- :mod:`consentmgr.audit.checkpoints` — Ed25519-signed checkpoints;
- :mod:`consentmgr.audit.models` — the tables.

Entries hold ids and field names, never personal values.
"""
