"""The staff area's public face: accounts, sign-in and the directory, under one name.

The rules live in :mod:`consentmgr.staff.accounts` (create, password links,
roles, deactivation, look-ups), :mod:`consentmgr.staff.signin` (password,
authenticator code, sign-out) and :mod:`consentmgr.staff.directory` (who a
staff id is); the CLI, the staff screens and the tests reach them here.
"""

from __future__ import annotations

from consentmgr.staff.accounts import (
    MAX_DISPLAY_NAME,
    MAX_EMAIL,
    MAX_PASSWORD,
    MIN_PASSWORD,
    PASSWORD_LINK_LIFETIME,
    LastAdministrator,
    PasswordLinkInvalid,
    StaffNotFound,
    change_role,
    check_password_link,
    create_staff,
    deactivate,
    email_lookup_key,
    find_staff_by_email,
    get_active_staff,
    get_staff,
    issue_password_link,
    list_staff,
    set_password,
    staff_actor,
)
from consentmgr.staff.directory import StaffCard, staff_directory
from consentmgr.staff.signin import (
    ANONYMOUS,
    TOTP_DRIFT_STEPS,
    TOTP_ISSUER,
    InvalidCode,
    SignInFailed,
    TotpEnrolment,
    authenticate,
    current_totp_code,
    enrol_totp,
    sign_out,
    start_totp_enrolment,
    verify_totp,
)

__all__ = [
    "ANONYMOUS", "MAX_DISPLAY_NAME", "MAX_EMAIL", "MAX_PASSWORD", "MIN_PASSWORD",
    "PASSWORD_LINK_LIFETIME", "TOTP_DRIFT_STEPS", "TOTP_ISSUER",
    "InvalidCode", "LastAdministrator", "PasswordLinkInvalid", "SignInFailed", "StaffCard",
    "StaffNotFound", "TotpEnrolment",
    "authenticate", "change_role", "check_password_link", "create_staff", "current_totp_code",
    "deactivate", "email_lookup_key", "enrol_totp", "find_staff_by_email", "get_active_staff",
    "get_staff", "issue_password_link", "list_staff", "set_password",
    "sign_out", "staff_actor", "staff_directory", "start_totp_enrolment", "verify_totp",
]
