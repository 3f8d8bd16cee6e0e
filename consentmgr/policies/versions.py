"""Reading published policy versions: the one in effect, its neighbours, its purposes.

Effective dates are calendar dates; "today" is the UTC date unless a caller
passes its own (tests freeze it, the pages pass nothing). A published
version's document is rebuilt from the stored data, never from its file.

A version may be published in several languages: English is the version
itself, other languages are its translations. Readers ask for a language and
get the document in it, or the English one when the version has none in
that language (:attr:`VersionInfo.language` says which they got).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa

from consentmgr.errors import NotFound
from consentmgr.extensions import db
from consentmgr.policies.document import PolicyDocument
from consentmgr.policies.models import PolicyPurpose, PolicyTranslation, PolicyVersion
from consentmgr.sql import utcnow

__all__ = [
    "ENGLISH",
    "Notice",
    "PolicyNotFound",
    "VersionInfo",
    "VersionStatus",
    "current_version",
    "describe_version",
    "document_of",
    "get_notice",
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

#: The canonical language of every policy version.
ENGLISH = "en"


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

    ``document`` is the parsed policy (rebuilt from the stored data) in
    ``document.language``: the ``requested`` language, or English when the
    version has no document in it; ``previous``/``following`` are the
    neighbouring versions by effective date.
    """

    version: PolicyVersion
    status: VersionStatus
    document: PolicyDocument
    previous: PolicyVersion | None
    following: PolicyVersion | None
    requested: str = ENGLISH

    @property
    def language(self) -> str:
        """The language of :attr:`document`."""
        return self.document.language

    @property
    def in_other_language(self) -> bool:
        """True if the version has no document in the requested language (English is shown)."""
        return self.language != self.requested

    @property
    def effective_until(self) -> dt.date | None:
        """The last day this version is (or was) in effect; None while no successor exists."""
        if self.following is None:
            return None
        return self.following.effective_date - dt.timedelta(days=1)


def describe_version(
    version: PolicyVersion, today: dt.date | None = None, *, language: str = ENGLISH
) -> VersionInfo:
    """``version`` with its status on ``today`` and its neighbours, its document in ``language``."""
    following = db.session.scalar(
        sa.select(PolicyVersion)
        .where(PolicyVersion.effective_date > version.effective_date)
        .order_by(PolicyVersion.effective_date)
        .limit(1)
    )
    return VersionInfo(
        version=version,
        status=status_of(version, today),
        document=document_of(version, language),
        previous=previous_version(version),
        following=following,
        requested=language,
    )


def version_history(
    today: dt.date | None = None, *, language: str = ENGLISH
) -> list[VersionInfo]:
    """Every published version with its status on ``today``, newest first, in ``language``."""
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
                document=document_of(version, language),
                previous=versions[index - 1] if index > 0 else None,
                following=versions[index + 1] if index + 1 < len(versions) else None,
                requested=language,
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


@dataclass(frozen=True)
class Notice:
    """A purpose's notice as shown in one language: what a consent event records."""

    purpose: PolicyPurpose
    language: str
    notice_hash: str
    title: str


def get_notice(label: str, slug: str, language: str = ENGLISH) -> Notice:
    """The notice of purpose ``slug`` in version ``label``, in ``language`` (one query).

    A version without a document in ``language`` was shown in English: the
    English notice is returned. Raises :class:`PolicyNotFound`.
    """
    if language == ENGLISH:
        purpose = get_purpose(label, slug)
        return Notice(purpose, ENGLISH, purpose.notice_hash, purpose.title)
    row = db.session.execute(
        sa.select(PolicyPurpose, PolicyTranslation.notices)
        .join(PolicyVersion, PolicyPurpose.policy_version_id == PolicyVersion.id)
        .outerjoin(PolicyTranslation, sa.and_(
            PolicyTranslation.policy_version_id == PolicyVersion.id,
            PolicyTranslation.language == language))
        .where(PolicyVersion.version == label, PolicyPurpose.slug == slug)
    ).first()
    if row is None:
        raise PolicyNotFound("That policy version defines no purpose with that name.")
    purpose, notices = row
    shown = (notices or {}).get(slug)
    if shown is None:
        return Notice(purpose, ENGLISH, purpose.notice_hash, purpose.title)
    return Notice(purpose, language, shown["notice_hash"], shown["title"])


def document_of(version: PolicyVersion, language: str | None = None) -> PolicyDocument:
    """The parsed document of a published version, rebuilt from the stored data.

    In ``language`` when the version was published in it, otherwise (and by
    default) in English. No file is read: the document is the one validated
    at publication.
    """
    if language is not None and language != ENGLISH:
        translation = version.translation(language)
        if translation is not None:
            return PolicyDocument.from_dict(translation.document, text=translation.text,
                                            source=translation.source, language=language)
    return PolicyDocument.from_dict(version.document, text=version.text, source=version.source)
