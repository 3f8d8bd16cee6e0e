"""What changed between two policy versions, purpose by purpose and line by line.

A *material* change to a purpose is one that changes what the customer agreed
to: what is done, on which legal basis, with which data, and who gets it.
Consent given under the old notice does not cover the new one (GDPR Art. 4(11):
consent must be specific and informed), so the consent area asks again. A new
title or reworded retention text is shown as a change but asks nobody again.

Two versions can be compared in any language both are published in. What
changed, and whether it is material, is always decided on the English
(canonical) texts, so every language tells the same story; the titles,
descriptions and text diff shown are those of the language asked for.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field, replace
from typing import Literal

from consentmgr.policies.document import DataCategory, PolicyDocument, Purpose
from consentmgr.policies.models import PolicyVersion
from consentmgr.policies.versions import ENGLISH, document_of, get_version

__all__ = [
    "MATERIAL_FIELDS",
    "MINOR_FIELDS",
    "CategoryChange",
    "DiffHunk",
    "DiffLine",
    "PurposeChange",
    "PurposeComparison",
    "VersionComparison",
    "compare_purposes",
    "compare_versions",
    "text_diff",
]

ChangeKind = Literal["new", "unchanged", "materially-changed", "removed"]
DiffKind = Literal["hunk", "context", "added", "removed"]

# sale_or_share and direct_marketing are material too: turning either on
# changes what happens to the data (a "sale" under CCPA; marketing that the
# customer may object to outright under GDPR Art. 21(2)).
MATERIAL_FIELDS = (
    "description",
    "legal_basis",
    "interest",
    "data_categories",
    "recipients",
    "transfers",
    "sale_or_share",
    "direct_marketing",
    # How long a consent lasts is part of what was agreed to: a shorter or
    # longer term (or none) is asked for again, never carried over silently.
    "valid_for_days",
)
MINOR_FIELDS = ("title", "retention")


@dataclass(frozen=True)
class PurposeChange:
    """How one purpose differs between two versions.

    ``kind`` is "new", "unchanged", "materially-changed" or "removed".
    "unchanged" means no material change: ``minor_fields`` may still list
    wording changes (title, retention) worth showing.
    """

    slug: str
    title: str
    kind: ChangeKind
    changed_fields: tuple[str, ...] = ()
    minor_fields: tuple[str, ...] = ()

    @property
    def needs_fresh_notice(self) -> bool:
        """True if customers must be told (and, for consent, asked) again."""
        return self.kind in ("new", "materially-changed")


@dataclass(frozen=True)
class DiffLine:
    """One line of a unified diff, ready to render.

    ``old_number``/``new_number`` are 1-based line numbers in each text (None
    where the line does not exist on that side, and for hunk headers).
    """

    kind: DiffKind
    text: str
    old_number: int | None = None
    new_number: int | None = None


def compare_purposes(old: PolicyDocument | None, new: PolicyDocument) -> list[PurposeChange]:
    """Classify every purpose of ``new`` against ``old`` (None: the first version).

    Purposes come in ``new``'s order, followed by those ``old`` had and ``new``
    dropped, as "removed".
    """
    old_purposes = {p.slug: p for p in old.purposes} if old is not None else {}
    changes: list[PurposeChange] = []
    for purpose in new.purposes:
        before = old_purposes.get(purpose.slug)
        if before is None:
            changes.append(PurposeChange(purpose.slug, purpose.title, "new"))
            continue
        material = _differing(before, purpose, MATERIAL_FIELDS)
        minor = _differing(before, purpose, MINOR_FIELDS)
        kind: ChangeKind = "materially-changed" if material else "unchanged"
        changes.append(PurposeChange(purpose.slug, purpose.title, kind, material, minor))
    new_slugs = {p.slug for p in new.purposes}
    for slug, purpose in old_purposes.items():
        if slug not in new_slugs:
            changes.append(PurposeChange(slug, purpose.title, "removed"))
    return changes


def _differing(old: Purpose, new: Purpose, names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(name for name in names if getattr(old, name) != getattr(new, name))


_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")


def text_diff(old_text: str, new_text: str, *, context: int = 3) -> list[DiffLine]:
    """Return a unified diff of two texts as :class:`DiffLine` s.

    Empty when the texts are equal. Line endings are ignored; the file
    headers of ``difflib.unified_diff`` are dropped, the hunk headers kept.
    """
    lines = difflib.unified_diff(
        old_text.splitlines(), new_text.splitlines(), n=context, lineterm=""
    )
    result: list[DiffLine] = []
    old_number = new_number = 0
    for line in lines:
        if line.startswith(("---", "+++")) and not result:
            continue  # the two file headers come before the first hunk
        hunk = _HUNK.match(line)
        if hunk:
            old_number, new_number = int(hunk[1]), int(hunk[2])
            result.append(DiffLine("hunk", line))
        elif line.startswith("+"):
            result.append(DiffLine("added", line[1:], None, new_number))
            new_number += 1
        elif line.startswith("-"):
            result.append(DiffLine("removed", line[1:], old_number, None))
            old_number += 1
        else:
            result.append(DiffLine("context", line[1:], old_number, new_number))
            old_number += 1
            new_number += 1
    return result


# --- two published versions, ready to show ---------------------------------------


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
    """Everything that differs between two versions, ready to show.

    ``language`` is the language of both documents: the one asked for, or
    English when either version has no text in it (``requested`` says which
    was asked for).
    """

    old: PolicyVersion
    new: PolicyVersion
    old_document: PolicyDocument
    new_document: PolicyDocument
    purposes: tuple[PurposeComparison, ...]
    categories: tuple[CategoryChange, ...]
    contacts_changed: tuple[str, ...]
    diff: tuple[DiffLine, ...] = field(repr=False)
    requested: str = ENGLISH

    @property
    def language(self) -> str:
        """The language both documents are shown in."""
        return self.new_document.language

    @property
    def in_other_language(self) -> bool:
        """True if the versions could not both be shown in the requested language."""
        return self.language != self.requested

    @property
    def inactivity_changed(self) -> bool:
        """True if the period after which inactive accounts are closed differs (not material:
        nobody is asked again, but the change is shown)."""
        return self.old_document.inactive_after_days != self.new_document.inactive_after_days

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


def compare_versions(
    old_label: str, new_label: str, *, language: str = ENGLISH
) -> VersionComparison:
    """Compare two published versions purpose by purpose, category by category and line by line.

    The text diff covers the policy body (the purposes and categories are
    compared field by field instead of as YAML). Shown in ``language`` when
    both versions are published in it, else in English; the kinds of change
    are those of the English texts. Raises :class:`PolicyNotFound` for an
    unknown label.
    """
    old, new = get_version(old_label), get_version(new_label)
    shown = language if language in old.languages and language in new.languages else ENGLISH
    old_document, new_document = document_of(old, shown), document_of(new, shown)
    changes = compare_purposes(document_of(old), document_of(new))
    purposes = tuple(
        PurposeComparison(
            _titled(change, old_document, new_document),
            old_document.purpose(change.slug), new_document.purpose(change.slug),
        )
        for change in changes
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
        requested=language,
    )


def _titled(change: PurposeChange, old: PolicyDocument, new: PolicyDocument) -> PurposeChange:
    """``change`` with the purpose's title in the documents' language."""
    purpose = new.purpose(change.slug) or old.purpose(change.slug)
    return change if purpose is None else replace(change, title=purpose.title)


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
