"""What changed between two policy versions, purpose by purpose and line by line.

A *material* change to a purpose is one that changes what the customer agreed
to: what is done, on which legal basis, with which data, and who gets it.
Consent given under the old notice does not cover the new one (GDPR Art. 4(11):
consent must be specific and informed), so the consent area asks again. A new
title or reworded retention text is shown as a change but asks nobody again.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Literal

from consentmgr.policies.document import PolicyDocument, Purpose

__all__ = [
    "MATERIAL_FIELDS",
    "MINOR_FIELDS",
    "DiffLine",
    "PurposeChange",
    "compare_purposes",
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
