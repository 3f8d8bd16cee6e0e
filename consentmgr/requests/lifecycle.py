"""The steps every request transition shares: parse input, check state, audit, close.

Audit details hold the request's id, type and new status, and nothing
personal; the change feed (GDPR Art. 19) carries them to other systems.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from typing import TypeVar

from consentmgr.actors import Actor
from consentmgr.audit import services as audit
from consentmgr.audit.models import AuditEntry
from consentmgr.errors import ValidationFailed
from consentmgr.extensions import db
from consentmgr.requests.errors import RequestClosed, WrongRequestState
from consentmgr.requests.models import DataSubjectRequest, RequestStatus
from consentmgr.text import clean_text as clean_stripped

E = TypeVar("E", bound=enum.Enum)

MAX_TEXT = 2000
_OUTCOME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")


def parse_choice(kind: type[E], value: object, field: str) -> E:
    """``value`` as a member of ``kind``, or :class:`ValidationFailed` naming ``field``."""
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(m.value for m in kind)
        raise ValidationFailed({field: [f"Unknown {field.replace('_', ' ')}: choose from {choices}."]}) from None


def clean_text(value: object, field: str, *, required: bool, limit: int = MAX_TEXT) -> str | None:
    """Stripped text of at most ``limit`` characters; blank is None (or refused if required)."""
    return clean_stripped(value, field, required=required, limit=limit)


def clean_outcome(value: object) -> str:
    """A short outcome code such as ``rectified``."""
    if not isinstance(value, str) or not _OUTCOME.match(value):
        raise ValidationFailed({"outcome": [
            "An outcome is a short lower-case code such as 'rectified'."]})
    return value


def ensure_open(req: DataSubjectRequest) -> None:
    """Raise :class:`RequestClosed` unless the request is still open."""
    if not req.is_open:
        raise RequestClosed(RequestStatus(req.status).value)


def ensure_identity_known(req: DataSubjectRequest) -> None:
    """A request filed on someone's behalf is not acted on before identity is verified."""
    ensure_open(req)
    if req.status == RequestStatus.AWAITING_IDENTITY:
        raise WrongRequestState("The requester's identity must be verified first.")


def record(req: DataSubjectRequest, action: str, *, actor: Actor) -> AuditEntry:
    """Flush the request and write ``action``'s audit entry: id, type and status only."""
    db.session.flush()
    return audit.record(action, actor=actor, subject_id=req.customer_id,
                        details={"request_id": str(req.id), "type": str(req.type),
                                 "status": str(req.status)})


def close(req: DataSubjectRequest, status: RequestStatus, *, actor: Actor, now: dt.datetime,
          outcome: str | None) -> None:
    """Mark the request answered (completed, refused or withdrawn) by ``actor`` at ``now``."""
    req.status = status
    req.completed_at = now
    req.handled_by = str(actor)[:128]
    req.outcome = outcome
