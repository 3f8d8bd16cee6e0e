"""The consent ledger: append-only events, materialised state, receipts."""
