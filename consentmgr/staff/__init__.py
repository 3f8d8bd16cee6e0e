"""Staff accounts: who may use the audited staff screens, and how they sign in.

- :mod:`consentmgr.staff.services` — create accounts (a one-time
  password-setting link), set passwords, sign in with password and TOTP,
  change roles, deactivate, and :func:`~consentmgr.staff.services.staff_directory`
  (display names for the customer's "Who has accessed my data" page);
- :mod:`consentmgr.staff.permissions` — the role matrix;
- :mod:`consentmgr.staff.access` — finding, viewing and revealing customer
  records, each audited;
- :mod:`consentmgr.staff.masking` — pure functions that mask personal values;
- :mod:`consentmgr.staff.demo` — the demo accounts ``demo load`` creates.
"""
