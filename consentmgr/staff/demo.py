"""Demo staff accounts, one per role, for trying the staff screens (development only).

Their passwords and authenticator secrets are published here on purpose, so
they must never exist in production: :func:`load_demo_staff` refuses there.
A code for the second step comes from ``flask --app wsgi staff totp-code
--email ...`` or from any authenticator app given the secret.
"""

from __future__ import annotations

from dataclasses import dataclass

from consentmgr.actors import Actor
from consentmgr.errors import Conflict
from consentmgr.extensions import db
from consentmgr.staff.models import StaffRole
from consentmgr.staff.accounts import create_staff, find_staff_by_email, set_password


@dataclass(frozen=True)
class DemoStaff:
    """A demo login: everything a newcomer needs to sign in as this role."""

    email: str
    display_name: str
    role: StaffRole
    password: str
    totp_secret: str


DEMO_STAFF = (
    DemoStaff("agent@northwind.example", "Alex Agent", StaffRole.AGENT,
              "demo-agent-password", "JBSWY3DPEHPK3PXPAGENTDEMOAAAAAAA"),
    DemoStaff("dpo@northwind.example", "Dana Officer", StaffRole.DPO,
              "demo-dpo-password", "JBSWY3DPEHPK3PXPDPODEMOAAAAAAAAA"),
    DemoStaff("admin@northwind.example", "Adrian Admin", StaffRole.ADMIN,
              "demo-admin-password", "JBSWY3DPEHPK3PXPADMINDEMOAAAAAAA"),
)


class DemoStaffRefused(Conflict):
    """Demo accounts with published passwords are refused in production."""

    def __init__(self) -> None:
        super().__init__("Demo staff accounts are never created in production.")


def load_demo_staff(*, actor: Actor, production: bool) -> list[tuple[DemoStaff, bool]]:
    """Create the missing demo accounts, password set and authenticator enrolled.

    ``production`` is the app's setting (the command passes it): there the
    accounts are refused with :class:`DemoStaffRefused`. Idempotent: returns
    each demo login and whether it was created now. Flushes; the command
    commits.
    """
    if production:
        raise DemoStaffRefused()
    result = []
    for demo in DEMO_STAFF:
        if find_staff_by_email(demo.email) is not None:
            result.append((demo, False))
            continue
        user, link = create_staff(demo.email, demo.display_name, demo.role, actor=actor)
        set_password(link.rsplit("/", 1)[1], demo.password)
        # Pre-enrolled, so a newcomer can sign in without an authenticator app.
        user.totp_secret = demo.totp_secret
        user.totp_enrolled = True
        db.session.flush()
        result.append((demo, True))
    return result
