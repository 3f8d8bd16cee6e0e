"""The consent ledger: append-only events, materialised state, the check, receipts.

Other areas import :mod:`consentmgr.consent.services` (and ``receipts``);
its docstring lists the modules behind it.
"""
