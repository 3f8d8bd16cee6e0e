"""Staff accounts: who may use the audited staff screens, and how they sign in.

- :mod:`consentmgr.staff.accounts` — create accounts (a one-time
  password-setting link), set passwords, change roles, deactivate, look up;
- :mod:`consentmgr.staff.signin` — sign in with password and TOTP, enrol
  an authenticator, sign out;
- :mod:`consentmgr.staff.directory` — who a staff id is (display name, role);
- :mod:`consentmgr.staff.services` — the public face: all of the above by one name;
- :mod:`consentmgr.staff.permissions` — the role matrix, and recording a refusal;
- :mod:`consentmgr.staff.access` — finding, viewing and revealing customer
  records, each audited;
- :mod:`consentmgr.staff.access_log` — the customer's "Who has accessed my
  data" page, read from the audit trail;
- :mod:`consentmgr.staff.masking` — pure functions that mask personal values;
- :mod:`consentmgr.staff.demo` — the demo accounts ``demo load`` creates.
"""
