"""The request register and legal holds. Notes and reasons are encrypted under the customer's key."""

from __future__ import annotations

import datetime as dt
import enum
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from consentmgr.crypto.codecs import TEXT
from consentmgr.extensions import db
from consentmgr.keys.fields import EncryptedField, EncryptedRecord
from consentmgr.sql import TZDateTime, utcnow


class RequestType(enum.StrEnum):
    """The right a data subject exercises."""

    ACCESS = "access"  # Art. 15
    PORTABILITY = "portability"  # Art. 20
    RECTIFICATION = "rectification"  # Art. 16
    ERASURE = "erasure"  # Art. 17
    RESTRICTION = "restriction"  # Art. 18
    OBJECTION = "objection"  # Art. 21


class RequestStatus(enum.StrEnum):
    """Where a request stands."""

    RECEIVED = "received"
    AWAITING_IDENTITY = "awaiting-identity"  # filed on someone's behalf, identity not yet checked
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"


OPEN_STATUSES = (RequestStatus.RECEIVED, RequestStatus.AWAITING_IDENTITY, RequestStatus.IN_PROGRESS)
CLOSED_STATUSES = (RequestStatus.COMPLETED, RequestStatus.REFUSED, RequestStatus.WITHDRAWN)


class RefusalReason(enum.StrEnum):
    """Why a request is refused (Art. 12(4): the customer is told why)."""

    IDENTITY_NOT_VERIFIED = "identity-not-verified"  # Art. 12(6)
    MANIFESTLY_UNFOUNDED = "manifestly-unfounded"  # or excessive, Art. 12(5)
    LEGAL_OBLIGATION = "legal-obligation"  # Art. 17(3)(b)
    LEGAL_CLAIMS = "legal-claims"  # Art. 17(3)(e)
    OTHER = "other"  # explanation required


#: The Art. 17(3) exceptions a legal hold may name.
HOLD_EXCEPTIONS = (RefusalReason.LEGAL_OBLIGATION, RefusalReason.LEGAL_CLAIMS)


class RequestChannel(enum.StrEnum):
    """Where a request was filed."""

    PORTAL = "portal"
    STAFF = "staff"
    API = "api"
    # Not the customer's: the controller closes an account unused for the period of the
    # policy in effect (its inactive_after_days), through the retention purge. Never filed
    # by hand (register.file_request refuses it); the customer gets the closure notice.
    INACTIVITY = "inactivity"


Channel = RequestChannel  # the short name, as the export module knows it


def _enum(kind: type[enum.Enum], length: int) -> sa.Enum:
    return sa.Enum(kind, native_enum=False, length=length, create_constraint=False,
                   values_callable=lambda e: [m.value for m in e])


class DataSubjectRequest(EncryptedRecord, db.Model):
    """One request by a data subject, from receipt to its answer."""

    __tablename__ = "data_subject_requests"
    __table_args__ = (sa.Index("ix_data_subject_requests_status_due", "status", "due_at"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    customer_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    type: Mapped[RequestType] = mapped_column(_enum(RequestType, 16))
    status: Mapped[RequestStatus] = mapped_column(_enum(RequestStatus, 20))
    channel: Mapped[RequestChannel] = mapped_column(_enum(RequestChannel, 16))
    # Objection only: the legitimate-interest purpose objected to.
    purpose: Mapped[str | None] = mapped_column(sa.String(64))
    received_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
    due_at: Mapped[dt.datetime] = mapped_column(TZDateTime)
    extended_due_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)
    completed_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)
    # The actor ("type:id") who last decided or handled the request.
    handled_by: Mapped[str | None] = mapped_column(sa.String(128))
    outcome: Mapped[str | None] = mapped_column(sa.String(32))
    refusal_reason: Mapped[RefusalReason | None] = mapped_column(_enum(RefusalReason, 32))

    notes = EncryptedField(TEXT)
    explanation = EncryptedField(TEXT)  # the refusal's explanation, or the decision's reason
    extension_reason = EncryptedField(TEXT)
    identity_check = EncryptedField(TEXT)  # how staff checked the identity of a caller

    def data_key_owner(self) -> tuple[uuid.UUID, bool]:
        """Encrypted under the customer's key: erasure makes the notes unreadable too."""
        self._ensure_id()
        return self.customer_id, False

    @property
    def deadline(self) -> dt.datetime:
        """When the answer is due: the extended date if there is one."""
        return self.extended_due_at or self.due_at

    @property
    def is_open(self) -> bool:
        """True until the request is completed, refused or withdrawn."""
        return self.status in OPEN_STATUSES

    def is_overdue(self, now: dt.datetime | None = None) -> bool:
        """True if still open after its deadline."""
        return self.is_open and self.deadline < (now or utcnow())

    def __repr__(self) -> str:
        return f"<DataSubjectRequest {self.id} {self.type} {self.status}>"


class LegalHold(EncryptedRecord, db.Model):
    """An Art. 17(3) exception that holds erasure back while it is active."""

    __tablename__ = "legal_holds"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    customer_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    exception: Mapped[RefusalReason] = mapped_column(_enum(RefusalReason, 32))
    placed_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
    placed_by: Mapped[str] = mapped_column(sa.String(128))
    lifted_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)
    lifted_by: Mapped[str | None] = mapped_column(sa.String(128))

    note = EncryptedField(TEXT)

    def data_key_owner(self) -> tuple[uuid.UUID, bool]:
        """Encrypted under the customer's key."""
        self._ensure_id()
        return self.customer_id, False

    @property
    def active(self) -> bool:
        """True until lifted."""
        return self.lifted_at is None

    def __repr__(self) -> str:
        return f"<LegalHold {self.id} {self.exception} active={self.active}>"
