"""Publishing privacy-policy versions from their files.

Publishing is all or nothing: every file in the directory is validated, and
every already published version checked against its file, before a single
row is written. A published version is never changed: a change needs a new
version, because consent already given points at the old one (GDPR Art. 7(1)).

A version's translations (``<version>.de.md``) are published with it, or
later beside it: adding a language to a published version changes nothing
anybody agreed to, as each translation was checked to say what the English
file says. Once published, a translation never changes either.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from consentmgr.actors import Actor
from consentmgr.audit import actions
from consentmgr.audit import services as audit
from consentmgr.errors import Conflict, ValidationFailed
from consentmgr.extensions import db
from consentmgr.policies.changes import compare_purposes
from consentmgr.policies.document import PolicyDocument, PolicyValidationError
from consentmgr.policies.loader import VersionFiles, load_policies
from consentmgr.policies.models import (
    PolicyPurpose,
    PolicyTranslation,
    PolicyVersion,
    PurposeChangeKind,
)
from consentmgr.policies.versions import list_versions

__all__ = ["PolicyChanged", "PolicyInvalid", "PublishReport", "publish_policies"]


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


@dataclass(frozen=True)
class PublishReport:
    """What :func:`publish_policies` did, oldest version first.

    ``translations`` are the documents in other languages published this
    time, for new versions and already published ones alike.
    """

    published: tuple[PolicyVersion, ...]
    already_present: tuple[PolicyVersion, ...]
    translations: tuple[PolicyTranslation, ...] = ()

    @property
    def versions(self) -> tuple[PolicyVersion, ...]:
        """Every version in the directory, newly published or not, oldest first."""
        return tuple(sorted(self.published + self.already_present, key=lambda v: v.effective_date))


def publish_policies(directory: str | Path, *, actor: Actor) -> PublishReport:
    """Publish every policy file in ``directory`` that is not published yet.

    Idempotent: versions (and translations) already published with the same
    text are left alone. Raises :class:`PolicyInvalid` when any file is
    invalid, a translation differs from its English file or is in a language
    the app does not speak, or a new version would take effect before an
    already published one, and :class:`PolicyChanged` when a published
    version's file (or a published translation's) was edited or removed; in
    every case nothing is written.
    """
    try:
        versions = load_policies(directory)
    except PolicyValidationError as exc:
        raise PolicyInvalid(exc.problems) from None
    documents = [files.document for files in versions]

    published = {v.version: v for v in list_versions()}
    _check_published_unchanged(versions, published, Path(directory))
    _check_new_versions_come_last(documents, published)

    added: list[PolicyVersion] = []
    present: list[PolicyVersion] = []
    translated: list[PolicyTranslation] = []
    previous: PolicyDocument | None = None
    for files in versions:
        document = files.document
        stored = published.get(document.version)
        if stored is not None:
            present.append(stored)
            languages = set(stored.languages)
        else:
            stored = _insert_version(document, previous, actor=actor)
            added.append(stored)
            languages = set()
        for language, translation in sorted(files.translations.items()):
            if language not in languages:
                translated.append(_insert_translation(stored, translation, actor=actor))
        previous = document
    db.session.flush()
    return PublishReport(published=tuple(added), already_present=tuple(present),
                         translations=tuple(translated))


def _check_published_unchanged(
    versions: list[VersionFiles], published: dict[str, PolicyVersion], directory: Path
) -> None:
    by_label = {files.document.version: files for files in versions}
    problems: list[str] = []
    changed: list[str] = []
    for label, stored in published.items():
        files = by_label.get(label)
        document = files.document if files is not None else None
        if document is None:
            problems.append(
                f"version {label} (published from {stored.source}) has no file in {directory}; "
                "a published version cannot be withdrawn"
            )
            changed.append(label)
            continue
        if document.sha256 != stored.sha256:
            problems.append(
                f"version {label}: {document.source} differs from the published text "
                f"(published SHA-256 {stored.sha256[:12]}..., file {document.sha256[:12]}...); "
                "restore the file and publish the change as a new version"
            )
            changed.append(label)
        translation_problems = _translations_changed(files, stored, directory)
        if translation_problems:
            problems.extend(translation_problems)
            if label not in changed:
                changed.append(label)
    if problems:
        raise PolicyChanged(problems, changed)


def _translations_changed(files: VersionFiles, stored: PolicyVersion, directory: Path
                          ) -> list[str]:
    # A customer may have consented under the German notice: it is as fixed as the English one.
    problems: list[str] = []
    for translation in stored.translations:
        document = files.translations.get(translation.language)
        if document is None:
            problems.append(
                f"version {stored.version}: its {translation.language} text (published from "
                f"{translation.source}) has no file in {directory}; a published translation "
                "cannot be withdrawn"
            )
        elif document.sha256 != translation.sha256:
            problems.append(
                f"version {stored.version}: {document.source} differs from the published "
                f"{translation.language} text (published SHA-256 {translation.sha256[:12]}..., "
                f"file {document.sha256[:12]}...); restore the file and publish the change "
                "as a new version"
            )
    return problems


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
                valid_for_days=purpose.valid_for_days,
                change_kind=PurposeChangeKind(change.kind),
                changed_fields=list(change.changed_fields),
            )
        )
    db.session.add(version)
    db.session.flush()
    audit.record(
        actions.POLICY_PUBLISHED,
        actor=actor,
        details={
            "version": document.version,
            "sha256": document.sha256,
            "effective_date": document.effective_date.isoformat(),
        },
    )
    return version


def _insert_translation(
    version: PolicyVersion, document: PolicyDocument, *, actor: Actor
) -> PolicyTranslation:
    # By id, not through the relationship: adding to a published version's
    # collection would mark the (immutable) version itself as changed.
    translation = PolicyTranslation(
        policy_version_id=version.id,
        language=document.language,
        text=document.text,
        sha256=document.sha256,
        document=document.to_dict(include_body=True),
        notices={p.slug: {"title": p.title, "notice_hash": p.notice_hash}
                 for p in document.purposes},
        source=document.source,
        published_by=str(actor),
    )
    db.session.add(translation)
    db.session.flush()
    db.session.expire(version, ["translations"])
    audit.record(
        actions.POLICY_TRANSLATION_PUBLISHED,
        actor=actor,
        details={
            "version": document.version,
            "language": document.language,
            "sha256": document.sha256,
        },
    )
    return translation
