"""A personal-data breach as the register keeps it, and the customers told about it.

Every free-text part of an entry (what happened, the data concerned, the
likely consequences, the measures taken, the authority's reference, the
reason for telling customers or not) may name people or quote their data,
so it is encrypted at rest like a staff member's contact data: under the
entry's *own* data key (the row owns its key, ``data_key_owner_column =
"id"``). Key rotation finds it through the registry of encrypted tables,
and shredding that one key would make one entry unreadable without
touching any customer's record.
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

#: GDPR Art. 33(1): the supervisory authority is told "not later than 72 hours
#: after having become aware of it".
AUTHORITY_DEADLINE = dt.timedelta(hours=72)


class CustomerNotice(enum.StrEnum):
    """Whether the people affected must be told (GDPR Art. 34)."""

    UNDECIDED = "undecided"
    REQUIRED = "required"  # likely a high risk to their rights and freedoms: Art. 34(1)
    NOT_REQUIRED = "not-required"  # Art. 34(3), or no high risk: the reason is kept


class Breach(EncryptedRecord, db.Model):
    """One entry of the breach register (Art. 33(5): facts, effects, remedial action)."""

    __tablename__ = "breaches"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    discovered_at: Mapped[dt.datetime] = mapped_column(TZDateTime, index=True)
    recorded_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
    # The actor ("type:id") who recorded it: an id, never a name.
    recorded_by: Mapped[str] = mapped_column(sa.String(128))
    approx_people: Mapped[int] = mapped_column(sa.Integer)
    authority_notified_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)
    customer_notice: Mapped[CustomerNotice] = mapped_column(
        sa.Enum(CustomerNotice, native_enum=False, length=16, create_constraint=False,
                values_callable=lambda e: [m.value for m in e]),
        default=CustomerNotice.UNDECIDED)
    customers_notified_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)
    customers_notified: Mapped[int] = mapped_column(sa.Integer, default=0)

    description = EncryptedField(TEXT)  # what happened
    data_categories = EncryptedField(TEXT)  # categories of data (and of people) concerned
    consequences = EncryptedField(TEXT)  # likely consequences
    measures = EncryptedField(TEXT)  # measures taken or proposed
    authority_reference = EncryptedField(TEXT)  # the authority's case number, how it was told
    notice_reason = EncryptedField(TEXT)  # why customers must (or need not) be told
    data_key_owner_column = "id"  # each entry owns its key, as each staff member does

    def data_key_owner(self) -> tuple[uuid.UUID, bool]:
        """A register entry's text is encrypted under the entry's own data key."""
        return self._ensure_id(), is_new(self)

    @property
    def authority_due_at(self) -> dt.datetime:
        """When the supervisory authority must have been told (72 hours after discovery)."""
        return self.discovered_at + AUTHORITY_DEADLINE

    def authority_overdue(self, now: dt.datetime | None = None) -> bool:
        """True if the authority is not told yet and the 72 hours are over."""
        return self.authority_notified_at is None and self.authority_due_at < (now or utcnow())

    @property
    def is_open(self) -> bool:
        """True while something is left to do: tell the authority, decide, or tell customers."""
        return (self.authority_notified_at is None
                or self.customer_notice == CustomerNotice.UNDECIDED
                or (self.customer_notice == CustomerNotice.REQUIRED
                    and self.customers_notified_at is None))

    def __repr__(self) -> str:  # never the text, even in a debugger
        return f"<Breach {self.id} discovered {self.discovered_at:%Y-%m-%d}>"


class BreachRecipient(db.Model):
    """A customer told about a breach (ids only): nobody is mailed twice about one breach."""

    __tablename__ = "breach_recipients"

    breach_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("breaches.id", ondelete="CASCADE"), primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True, index=True)
    notified_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)


class BreachNoticeRun(db.Model):
    """A DPO's request to tell the customers one staff account opened in a window (Art. 34).

    What was asked, kept as data (never in the job's payload, which holds
    this row's id only): the breach, the staff account, the window, who
    asked and when. The worker (job ``breaches.notify``) selects the
    customers, fills in ``selected``, and mails them in committed batches;
    ``position`` is how far through the selection it got, so a worker
    killed mid-run leaves the rest to the next one. Ids, times and counts
    only: nothing here is personal data in the clear.
    """

    __tablename__ = "breach_notice_runs"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    breach_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("breaches.id", ondelete="CASCADE"), index=True)
    staff_account_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)  # whose access is the window's
    since: Mapped[dt.datetime] = mapped_column(TZDateTime)
    until: Mapped[dt.datetime] = mapped_column(TZDateTime)
    # The actor ("type:id") who asked, and their role: the worker mails on their behalf.
    requested_by: Mapped[str] = mapped_column(sa.String(128))
    requested_role: Mapped[str | None] = mapped_column(sa.String(32))
    requested_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
    request_id: Mapped[str | None] = mapped_column(sa.String(64))
    selected: Mapped[int | None] = mapped_column(sa.Integer)  # None until the worker selected
    position: Mapped[int] = mapped_column(sa.Integer, default=0)  # selected customers handled
    mailed: Mapped[int] = mapped_column(sa.Integer, default=0)
    already_told: Mapped[int] = mapped_column(sa.Integer, default=0)
    unreachable: Mapped[int] = mapped_column(sa.Integer, default=0)  # erased: nobody to write to
    finished_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)

    @property
    def done(self) -> bool:
        """True once every selected customer was handled (or the run was stopped)."""
        return self.finished_at is not None

    def __repr__(self) -> str:
        return f"<BreachNoticeRun {self.id} {self.position}/{self.selected}>"
