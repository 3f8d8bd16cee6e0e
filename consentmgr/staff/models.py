"""Staff accounts and their one-time password-setting tokens.

A staff member's email address and name are personal data as much as a
customer's (GDPR applies to employees too), so they are encrypted at rest
under the staff member's *own* data key, like a customer's fields. Sign-in
finds the account through a blind index of the normalised email (a keyed
HMAC under its own derived key, never the customers' email index key). The
TOTP secret is encrypted the same way: a copy of the database alone cannot
produce second-factor codes.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from consentmgr.crypto.codecs import TEXT
from consentmgr.extensions import db
from consentmgr.keys.fields import EncryptedField, EncryptedRecord, is_new
from consentmgr.sql import TZDateTime, utcnow


class StaffRole(enum.StrEnum):
    """What a staff member may do; the matrix is in :mod:`consentmgr.staff.permissions`."""

    AGENT = "agent"  # customer support: find, view, reveal with a reason, record consent
    DPO = "dpo"  # data protection officer: what an agent can, plus the audit trail
    ADMIN = "admin"  # staff accounts and API clients; no customer records


class StaffUser(EncryptedRecord, db.Model):
    """A member of staff who signs in to the audited staff screens."""

    __tablename__ = "staff_users"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    # Keyed HMAC of the normalised address: sign-in looks the account up
    # without decrypting every staff row.
    email_index: Mapped[str] = mapped_column(sa.String(80), unique=True)
    role: Mapped[StaffRole] = mapped_column(
        sa.Enum(StaffRole, native_enum=False, length=16,
                values_callable=lambda e: [m.value for m in e]),
    )
    # argon2id (PHC string); empty until the set-password link is used.
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    totp_enrolled: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    # The last TOTP time step accepted: a code is good for one sign-in only.
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
    last_sign_in_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)
    deactivated_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)

    email = EncryptedField(TEXT)
    display_name = EncryptedField(TEXT)
    totp_secret = EncryptedField(TEXT)
    data_key_owner_column = "id"  # each staff member owns their key

    def data_key_owner(self) -> tuple[uuid.UUID, bool]:
        """A staff member's fields are encrypted under their own data key."""
        return self._ensure_id(), is_new(self)

    def __repr__(self) -> str:  # never show the email or name, even in a debugger
        return f"<StaffUser {self.id} {self.role}{'' if self.active else ' inactive'}>"


class PasswordToken(db.Model):
    """A single-use, expiring link to set a password. Only its SHA-256 is stored."""

    __tablename__ = "staff_password_tokens"

    token_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    staff_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("staff_users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(TZDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)

    def __repr__(self) -> str:
        return f"<PasswordToken for {self.staff_id}>"
