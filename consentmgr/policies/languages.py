"""A policy version in more than one language: what a translation must keep from the English text.

English (``<version>.md``) is the canonical text; a translation
(``<version>.de.md``) words everything in its own language but must say the
same thing. A customer who reads the German notice and consents has agreed
to exactly what a customer reading the English one agreed to (GDPR Art. 7(1),
Art. 12(1): the same information, in a language the person understands), so
everything that decides what is done with the data -- the purposes, their
legal bases, the data they use, the retention periods, the dates, the
contacts -- must match the English file field for field. Only text may differ.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from consentmgr.policies.document import PolicyDocument, Purpose

__all__ = ["FIXED_PURPOSE_FIELDS", "translation_problems"]

#: What a purpose must keep in every language: what is done on which basis with which data.
FIXED_PURPOSE_FIELDS = (
    "legal_basis", "data_categories", "sale_or_share", "direct_marketing", "valid_for_days",
)


def translation_problems(english: PolicyDocument, translated: PolicyDocument) -> list[str]:
    """Every way ``translated`` differs from ``english``, as ``"<file>: <field>: <what>"``.

    Empty when the translation defines the same version, dates, contacts,
    purposes (in the same order, with the same legal bases, data and flags)
    and data categories (with the same retention) as the English file.
    """
    source, other = translated.source, english.source
    problems: list[tuple[str, str]] = []
    for name in ("version", "effective_date", "inactive_after_days"):
        mine, theirs = getattr(translated, name), getattr(english, name)
        if mine != theirs:
            problems.append((name, f"{_show(mine)} here, {_show(theirs)} in {other}"))
    problems.extend(_contact_problems(english, translated))
    problems.extend(_purpose_problems(english, translated))
    problems.extend(_category_problems(english, translated))
    return [f"{source}: {where}: {what}" for where, what in problems]


def _contact_problems(english: PolicyDocument, translated: PolicyDocument
                      ) -> Iterable[tuple[str, str]]:
    # The printed address may name the country in the translation's language;
    # who the controller is and how to reach them may not change.
    pairs = [("controller.name", english.controller.name, translated.controller.name),
             ("controller.email", english.controller.email, translated.controller.email),
             ("controller.phone", english.controller.phone, translated.controller.phone),
             ("controller.postal_address", english.controller.postal_address,
              translated.controller.postal_address),
             ("dpo.name", english.dpo.name, translated.dpo.name),
             ("dpo.email", english.dpo.email, translated.dpo.email)]
    for where, theirs, mine in pairs:
        if mine != theirs:
            yield where, f"differs from {english.source}; contacts are the same in every language"


def _purpose_problems(english: PolicyDocument, translated: PolicyDocument
                      ) -> Iterable[tuple[str, str]]:
    theirs = [p.slug for p in english.purposes]
    mine = [p.slug for p in translated.purposes]
    missing = [slug for slug in theirs if slug not in mine]
    extra = [slug for slug in mine if slug not in theirs]
    for slug in missing:
        yield "purposes", f"{english.source} defines purpose {slug!r}, this translation does not"
    for slug in extra:
        yield "purposes", f"purpose {slug!r} is not defined in {english.source}"
    if not missing and not extra and mine != theirs:
        yield "purposes", f"listed in another order than in {english.source} ({', '.join(theirs)})"
    for purpose in translated.purposes:
        original = english.purpose(purpose.slug)
        if original is not None:
            yield from _purpose_differences(original, purpose, english.source)


def _purpose_differences(english: Purpose, translated: Purpose, other: str
                         ) -> Iterable[tuple[str, str]]:
    for name in FIXED_PURPOSE_FIELDS:
        mine, theirs = getattr(translated, name), getattr(english, name)
        if mine != theirs:
            yield (f"purposes.{translated.slug}.{name}",
                   f"{_show(mine)} here, {_show(theirs)} in {other}")
    # Recipients and transfers are worded in each language; how many there are is not.
    for name in ("recipients", "transfers"):
        mine, theirs = len(getattr(translated, name)), len(getattr(english, name))
        if mine != theirs:
            yield (f"purposes.{translated.slug}.{name}",
                   f"{mine} listed here, {theirs} in {other}")


def _category_problems(english: PolicyDocument, translated: PolicyDocument
                       ) -> Iterable[tuple[str, str]]:
    theirs = {c.slug: c for c in english.data_categories}
    mine = {c.slug: c for c in translated.data_categories}
    for slug in (slug for slug in theirs if slug not in mine):
        yield ("data_categories",
               f"{english.source} defines data category {slug!r}, this translation does not")
    for slug in (slug for slug in mine if slug not in theirs):
        yield "data_categories", f"data category {slug!r} is not defined in {english.source}"
    for slug, category in mine.items():
        original = theirs.get(slug)
        if original is not None and category.retention_days != original.retention_days:
            yield (f"data_categories.{slug}.retention_days",
                   f"{category.retention_days} here, {original.retention_days} in "
                   f"{english.source}")


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(value) + "]"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return repr(value)
