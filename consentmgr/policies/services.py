"""Rules for the published privacy policy: publish versions, find the one in effect, compare.

Publishing is all or nothing: every file in the directory is validated, and
every already published version checked against its file, before a single
row is written. A published version is never changed: a change needs a new
version, because consent already given points at the old one (GDPR Art. 7(1)).

Effective dates are calendar dates; "today" is the UTC date unless a caller
passes its own (tests freeze it, the pages pass nothing).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa

from consentmgr.actors import Actor
from consentmgr.audit import actions
from consentmgr.audit import services as audit
from consentmgr.errors import Conflict, NotFound, ValidationFailed
from consentmgr.extensions import db
from consentmgr.policies.changes import DiffLine, PurposeChange, compare_purposes, text_diff
from consentmgr.policies.document import (
    Contact,
    Controller,
    DataCategory,
    PolicyDocument,
    PolicyValidationError,
    Purpose,
    Transfer,
    load_policy_dir,
)
from consentmgr.policies.models import PolicyPurpose, PolicyVersion, PurposeChangeKind

__all__ = [
    "CategoryChange",
    "DiffHunk",
    "PolicyChanged",
    "PolicyInvalid",
    "PolicyNotFound",
    "PublishReport",
    "PurposeComparison",
    "VersionComparison",
    "VersionInfo",
    "compare_versions",
    "current_version",
    "describe_version",
    "document_of",
    "get_purpose",
    "get_version",
    "list_versions",
    "previous_version",
    "publish_policies",
    "purposes_of",
    "status_of",
    "upcoming_version",
    "version_history",
]

VersionStatus = Literal["current", "upcoming", "superseded"]


# --- errors -------------------------------------------------------------------


class PolicyNotFound(NotFound):
    """No published version with that label (or none in effect on that day)."""

    def __init__(
        self, message: str = "No published privacy-policy version with that label."
    ) -> None:
        super().__init__(message)


class PolicyChanged(Conflict):
    """An already published version's file was edited or removed.

    ``versions`` names the versions concerned. A change needs a new version
    file with its own label and effective date.
    """

    def __init__(self, problems: list[str], versions: list[str]) -> None:
        self.problems = tuple(problems)
        self.versions = tuple(versions)
        super().__init__(
            "Published privacy-policy versions cannot change; nothing was published:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )


class PolicyInvalid(ValidationFailed):
    """The policy files are invalid; nothing was published.

    ``problems`` lists every problem as ``"<file>: <field>: <what>"``;
    ``errors`` groups them by file, as :class:`ValidationFailed` promises.
    """

    def __init__(self, problems: tuple[str, ...] | list[str]) -> None:
        self.problems = tuple(problems)
        errors: dict[str, list[str]] = {}
        for problem in self.problems:
            source, _, rest = problem.partition(": ")
            errors.setdefault(source, []).append(rest or problem)
        count = len(self.problems)
        super().__init__(
            errors,
            f"{count} problem{'s' if count != 1 else ''} in the privacy-policy files; "
            "nothing was published:\n" + "\n".join(f"  - {p}" for p in self.problems),
        )


# --- publishing ---------------------------------------------------------------


@dataclass(frozen=True)
class PublishReport:
    """What :func:`publish_policies` did, oldest version first."""

    published: tuple[PolicyVersion, ...]
    already_present: tuple[PolicyVersion, ...]

    @property
    def versions(self) -> tuple[PolicyVersion, ...]:
        """Every version in the directory, newly published or not, oldest first."""
        return tuple(sorted(self.published + self.already_present, key=lambda v: v.effective_date))


def publish_policies(directory: str | Path, *, actor: Actor) -> PublishReport:
    """Publish every policy file in ``directory`` that is not published yet.

    Idempotent: versions already published with the same text are left
    alone. Raises :class:`PolicyInvalid` when any file is invalid or a new
    version would take effect before an already published one, and
    :class:`PolicyChanged` when a published version's file was edited or
    removed; in both cases nothing is written.
    """
    try:
        documents = load_policy_dir(directory)
    except PolicyValidationError as exc:
        raise PolicyInvalid(exc.problems) from None

    published = {v.version: v for v in list_versions()}
    _check_published_unchanged(documents, published, Path(directory))
    _check_new_versions_come_last(documents, published)

    added: list[PolicyVersion] = []
    present: list[PolicyVersion] = []
    previous: PolicyDocument | None = None
    for document in documents:
        if document.version in published:
            present.append(published[document.version])
        else:
            added.append(_insert_version(document, previous, actor=actor))
        previous = document
    db.session.flush()
    return PublishReport(published=tuple(added), already_present=tuple(present))


def _check_published_unchanged(
    documents: list[PolicyDocument], published: dict[str, PolicyVersion], directory: Path
) -> None:
    by_label = {d.version: d for d in documents}
    problems: list[str] = []
    versions: list[str] = []
    for label, stored in published.items():
        document = by_label.get(label)
        if document is None:
            problems.append(
                f"version {label} (published from {stored.source}) has no file in {directory}; "
                "a published version cannot be withdrawn"
            )
            versions.append(label)
        elif document.sha256 != stored.sha256:
            problems.append(
                f"version {label}: {document.source} differs from the published text "
                f"(published SHA-256 {stored.sha256[:12]}..., file {document.sha256[:12]}...); "
                "restore the file and publish the change as a new version"
            )
            versions.append(label)
    if problems:
        raise PolicyChanged(problems, versions)


def _check_new_versions_come_last(
    documents: list[PolicyDocument], published: dict[str, PolicyVersion]
) -> None:
    if not published:
        return
    latest = max(published.values(), key=lambda v: v.effective_date)
    problems = [
        f"{d.source}: effective_date: {d.effective_date.isoformat()} is before the published "
        f"version {latest.version} ({latest.effective_date.isoformat()}); "
        "a new version must take effect after every published one"
        for d in documents
        if d.version not in published and d.effective_date <= latest.effective_date
    ]
    if problems:
        # Slotting a version into the past would rewrite which notice was in
        # force when earlier consents were given.
        raise PolicyInvalid(problems)


def _insert_version(
    document: PolicyDocument, previous: PolicyDocument | None, *, actor: Actor
) -> PolicyVersion:
    version = PolicyVersion(
        version=document.version,
        effective_date=document.effective_date,
        summary=document.summary,
        text=document.text,
        sha256=document.sha256,
        document=document.to_dict(include_body=True),
        source=document.source,
        published_by=str(actor),
    )
    changes = {c.slug: c for c in compare_purposes(previous, document)}
    for position, purpose in enumerate(document.purposes):
        change = changes[purpose.slug]
        version.purposes.append(
            PolicyPurpose(
                position=position,
                slug=purpose.slug,
                title=purpose.title,
                legal_basis=purpose.legal_basis,
                notice_hash=purpose.notice_hash,
                sale_or_share=purpose.sale_or_share,
                direct_marketing=purpose.direct_marketing,
                change_kind=PurposeChangeKind(change.kind),
                changed_fields=list(change.changed_fields),
            )
        )
    db.session.add(version)
    db.session.flush()
    audit.record(actions.POLICY_PUBLISHED, actor=actor,
                 details={"version": document.version, "sha256": document.sha256,
                          "effective_date": document.effective_date.isoformat()})
    return version


# --- reading ------------------------------------------------------------------


def _today(today: dt.date | None) -> dt.date:
    return today if today is not None else dt.datetime.now(dt.timezone.utc).date()


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
    data = version.document
    return PolicyDocument(
        version=data["version"],
        effective_date=dt.date.fromisoformat(data["effective_date"]),
        summary=data["summary"],
        controller=Controller(**data["controller"]),
        dpo=Contact(**data["dpo"]),
        purposes=tuple(_purpose_from_dict(p) for p in data["purposes"]),
        data_categories=tuple(DataCategory(**c) for c in data["data_categories"]),
        body=data["body"],
        text=version.text,
        source=version.source,
    )


def _purpose_from_dict(data: dict[str, Any]) -> Purpose:
    fields = {k: v for k, v in data.items() if k != "notice_hash"}
    return Purpose(
        **{
            **fields,
            "data_categories": tuple(fields["data_categories"]),
            "recipients": tuple(fields["recipients"]),
            "transfers": tuple(Transfer(**t) for t in fields["transfers"]),
        }
    )


# --- comparing ----------------------------------------------------------------


@dataclass(frozen=True)
class PurposeComparison:
    """One purpose across two versions: the change and both sides (None where absent)."""

    change: PurposeChange
    old: Purpose | None
    new: Purpose | None

    @property
    def kind(self) -> str:
        """"new", "unchanged", "materially-changed" or "removed"."""
        return self.change.kind


@dataclass(frozen=True)
class CategoryChange:
    """How a data category differs between two versions."""

    slug: str
    kind: Literal["new", "changed", "removed"]
    old: DataCategory | None
    new: DataCategory | None
    changed_fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class DiffHunk:
    """A run of nearby changed lines with their context, for display."""

    old_start: int
    new_start: int
    lines: tuple[DiffLine, ...]


@dataclass(frozen=True)
class VersionComparison:
    """Everything that differs between two versions, ready to show."""

    old: PolicyVersion
    new: PolicyVersion
    old_document: PolicyDocument
    new_document: PolicyDocument
    purposes: tuple[PurposeComparison, ...]
    categories: tuple[CategoryChange, ...]
    contacts_changed: tuple[str, ...]
    diff: tuple[DiffLine, ...] = field(repr=False)

    def purposes_of_kind(self, kind: str) -> list[PurposeComparison]:
        """The purpose comparisons of one kind, in policy order."""
        return [p for p in self.purposes if p.kind == kind]

    @property
    def hunks(self) -> list[DiffHunk]:
        """The text diff split into hunks (empty when the texts are equal)."""
        hunks: list[DiffHunk] = []
        lines: list[DiffLine] = []
        for line in self.diff:
            if line.kind == "hunk":
                if lines:
                    hunks.append(_hunk(lines))
                lines = []
            else:
                lines.append(line)
        if lines:
            hunks.append(_hunk(lines))
        return hunks


def _hunk(lines: list[DiffLine]) -> DiffHunk:
    old_start = next((ln.old_number for ln in lines if ln.old_number is not None), 0)
    new_start = next((ln.new_number for ln in lines if ln.new_number is not None), 0)
    return DiffHunk(old_start, new_start, tuple(lines))


_CATEGORY_FIELDS = ("title", "description", "retention", "retention_days")


def compare_versions(old_label: str, new_label: str) -> VersionComparison:
    """Compare two published versions purpose by purpose, category by category and line by line.

    The text diff covers the policy body (the purposes and categories are
    compared field by field instead of as YAML). Raises
    :class:`PolicyNotFound` for an unknown label.
    """
    old, new = get_version(old_label), get_version(new_label)
    old_document, new_document = document_of(old), document_of(new)
    purposes = tuple(
        PurposeComparison(
            change, old_document.purpose(change.slug), new_document.purpose(change.slug)
        )
        for change in compare_purposes(old_document, new_document)
    )
    contacts_changed = tuple(
        name
        for name in ("controller", "dpo")
        if getattr(old_document, name) != getattr(new_document, name)
    )
    return VersionComparison(
        old=old,
        new=new,
        old_document=old_document,
        new_document=new_document,
        purposes=purposes,
        categories=_compare_categories(old_document, new_document),
        contacts_changed=contacts_changed,
        diff=tuple(text_diff(old_document.body, new_document.body)),
    )


def _compare_categories(old: PolicyDocument, new: PolicyDocument) -> tuple[CategoryChange, ...]:
    changes: list[CategoryChange] = []
    for category in new.data_categories:
        before = old.data_category(category.slug)
        if before is None:
            changes.append(CategoryChange(category.slug, "new", None, category))
            continue
        differing = tuple(f for f in _CATEGORY_FIELDS if getattr(before, f) != getattr(category, f))
        if differing:
            changes.append(CategoryChange(category.slug, "changed", before, category, differing))
    new_slugs = {c.slug for c in new.data_categories}
    changes.extend(
        CategoryChange(c.slug, "removed", c, None)
        for c in old.data_categories
        if c.slug not in new_slugs
    )
    return tuple(changes)
