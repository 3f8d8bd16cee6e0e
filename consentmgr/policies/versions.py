"""Reading published policy versions: the one in effect, its neighbours, its purposes.

Effective dates are calendar dates; "today" is the UTC date unless a caller
passes its own (tests freeze it, the pages pass nothing). A published
version's document is rebuilt from the stored data, never from its file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa

from consentmgr.errors import NotFound
from consentmgr.extensions import db
from consentmgr.policies.document import PolicyDocument
from consentmgr.policies.models import PolicyPurpose, PolicyVersion
from consentmgr.sql import utcnow

__all__ = [
    "PolicyNotFound",
    "VersionInfo",
    "VersionStatus",
    "current_version",
    "describe_version",
    "document_of",
    "get_purpose",
    "get_version",
    "list_versions",
    "previous_version",
    "purposes_of",
    "status_of",
    "upcoming_version",
    "version_history",
]

VersionStatus = Literal["current", "upcoming", "superseded"]


class PolicyNotFound(NotFound):
    """No published version with that label (or none in effect on that day)."""

    def __init__(
        self, message: str = "No published privacy-policy version with that label."
    ) -> None:
        super().__init__(message)


def _today(today: dt.date | None) -> dt.date:
    return today if today is not None else utcnow().date()


def list_versions() -> list[PolicyVersion]:
    """Every published version, oldest first."""
    return list(db.session.scalars(sa.select(PolicyVersion).order_by(PolicyVersion.effective_date)))


def get_version(label: str) -> PolicyVersion:
    """The published version with this label; raises :class:`PolicyNotFound`."""
    version = db.session.scalar(sa.select(PolicyVersion).where(PolicyVersion.version == label))
    if version is None:
        raise PolicyNotFound()
    return version


def current_version(today: dt.date | None = None) -> PolicyVersion:
    """The version in effect on ``today``: the latest that took effect on or before it.

    Raises :class:`PolicyNotFound` if no published version is in effect yet.
    """
    version = db.session.scalar(
        sa.select(PolicyVersion)
        .where(PolicyVersion.effective_date <= _today(today))
        .order_by(PolicyVersion.effective_date.desc())
        .limit(1)
    )
    if version is None:
        raise PolicyNotFound("No privacy-policy version is in effect yet.")
    return version


def upcoming_version(today: dt.date | None = None) -> PolicyVersion | None:
    """The next version to take effect after ``today``, or None."""
    return db.session.scalar(
        sa.select(PolicyVersion)
        .where(PolicyVersion.effective_date > _today(today))
        .order_by(PolicyVersion.effective_date)
        .limit(1)
    )


def previous_version(version: PolicyVersion) -> PolicyVersion | None:
    """The version published before ``version`` (by effective date), or None for the first."""
    return db.session.scalar(
        sa.select(PolicyVersion)
        .where(PolicyVersion.effective_date < version.effective_date)
        .order_by(PolicyVersion.effective_date.desc())
        .limit(1)
    )


def status_of(version: PolicyVersion, today: dt.date | None = None) -> VersionStatus:
    """Whether ``version`` is the current one, still to come, or superseded on ``today``."""
    day = _today(today)
    if version.effective_date > day:
        return "upcoming"
    try:
        current = current_version(day)
    except PolicyNotFound:  # pragma: no cover - version itself is in effect, so one exists
        return "current"
    return "current" if current.id == version.id else "superseded"


@dataclass(frozen=True)
class VersionInfo:
    """A published version with its place in time, as the pages show it.

    ``document`` is the parsed policy (rebuilt from the stored data);
    ``previous``/``following`` are the neighbouring versions by effective date.
    """

    version: PolicyVersion
    status: VersionStatus
    document: PolicyDocument
    previous: PolicyVersion | None
    following: PolicyVersion | None

    @property
    def effective_until(self) -> dt.date | None:
        """The last day this version is (or was) in effect; None while no successor exists."""
        if self.following is None:
            return None
        return self.following.effective_date - dt.timedelta(days=1)


def describe_version(version: PolicyVersion, today: dt.date | None = None) -> VersionInfo:
    """``version`` with its status on ``today`` and its neighbours."""
    following = db.session.scalar(
        sa.select(PolicyVersion)
        .where(PolicyVersion.effective_date > version.effective_date)
        .order_by(PolicyVersion.effective_date)
        .limit(1)
    )
    return VersionInfo(
        version=version,
        status=status_of(version, today),
        document=document_of(version),
        previous=previous_version(version),
        following=following,
    )


def version_history(today: dt.date | None = None) -> list[VersionInfo]:
    """Every published version with its status on ``today``, newest first."""
    versions = list_versions()
    day = _today(today)
    current = next((v for v in reversed(versions) if v.effective_date <= day), None)
    history: list[VersionInfo] = []
    for index, version in enumerate(versions):
        if version.effective_date > day:
            status: VersionStatus = "upcoming"
        else:
            status = "current" if version is current else "superseded"
        history.append(
            VersionInfo(
                version=version,
                status=status,
                document=document_of(version),
                previous=versions[index - 1] if index > 0 else None,
                following=versions[index + 1] if index + 1 < len(versions) else None,
            )
        )
    return list(reversed(history))


def purposes_of(version: PolicyVersion) -> list[PolicyPurpose]:
    """The purposes ``version`` defines, in the order the policy lists them."""
    return list(version.purposes)


def get_purpose(label: str, slug: str) -> PolicyPurpose:
    """The purpose ``slug`` as defined by version ``label``; raises :class:`PolicyNotFound`.

    This is what a consent event points at (with the purpose's notice hash).
    """
    purpose = db.session.scalar(
        sa.select(PolicyPurpose)
        .join(PolicyVersion)
        .where(PolicyVersion.version == label, PolicyPurpose.slug == slug)
    )
    if purpose is None:
        raise PolicyNotFound("That policy version defines no purpose with that name.")
    return purpose


def document_of(version: PolicyVersion) -> PolicyDocument:
    """The parsed document of a published version, rebuilt from the stored data.

    No file is read: the document is the one validated at publication.
    """
    return PolicyDocument.from_dict(version.document, text=version.text, source=version.source)
