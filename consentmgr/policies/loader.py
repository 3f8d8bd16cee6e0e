"""Reading privacy-policy files: one Markdown file per version, with a YAML header.

A file looks like this::

    ---
    version: "2026-03"
    effective_date: 2026-03-01
    summary: What changed, in a sentence or two.
    controller:
      name: ...
      address: ...            # as printed, one line per line
      postal_address: {street_address: ..., postal_code: "...", locality: ..., country: DE}
      email: ...
      phone: "+49 ..."        # phone and postal_address: optional, but every new version
                              # should have them (the consent receipt needs both)
    dpo: {name: ..., email: ...}
    data_categories:
      - {slug: contact, title: ..., description: ..., retention: ..., retention_days: 30}
    purposes:
      - slug: marketing-email
        title: ...
        description: ...
        legal_basis: consent
        data_categories: [contact]
        retention: ...
        recipients: [...]
        transfers: [{recipient: ..., country: ..., safeguard: ...}]
        sale_or_share: false
        direct_marketing: true
    ---
    ## About this policy
    ...

The header is data (what the portal, the consent ledger and the API read),
checked by :class:`~consentmgr.policies.schemas.PolicyHeaderSchema`; the body
is the policy text that GDPR Art. 13/14 require.

A version may come in more languages: ``<name>.de.md`` beside ``<name>.md``
is the German text of the same version. English is canonical; each
translation must define what the English file defines
(:mod:`consentmgr.policies.languages`), in a language the app speaks.

Parsing is strict and
reports every problem at once, each naming the file and the field, so a
broken policy can never be published half-checked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from marshmallow import ValidationError

from consentmgr.i18n import DEFAULT_LANGUAGE, LANGUAGES
from consentmgr.policies.document import PolicyDocument, PolicyValidationError
from consentmgr.policies.languages import translation_problems
from consentmgr.policies.schemas import PolicyHeaderSchema, describe, field_problems

__all__ = ["VersionFiles", "language_of_file", "load_policies", "load_policy_dir",
           "parse_policy_file"]

# ``2026-03.de.md``: a language tag (BCP 47 primary tag, maybe a region) before ``.md``.
_LANGUAGE_SUFFIX = re.compile(
    r"^(?P<stem>.+)\.(?P<language>[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,4})?)$"
)

_FRONT_MATTER = re.compile(
    r"\A---[ \t]*\r?\n(?P<yaml>.*?)^---[ \t]*\r?$\n?", re.DOTALL | re.MULTILINE
)


@dataclass(frozen=True)
class VersionFiles:
    """One version as its files give it: the English document and its translations."""

    document: PolicyDocument
    #: language code -> the document in that language (English not included).
    translations: Mapping[str, PolicyDocument] = field(default_factory=dict)

    @property
    def languages(self) -> tuple[str, ...]:
        """Every language the version is written in, English first."""
        return (DEFAULT_LANGUAGE, *sorted(self.translations))


def language_of_file(path: str | Path) -> tuple[str, str]:
    """The file's name without the language and ``.md``, and its language (``"en"`` if none).

    ``2026-03.de.md`` is ``("2026-03", "de")``; ``2026-03.md`` is ``("2026-03", "en")``.
    """
    stem, language = _split_language(path)
    return stem, language or DEFAULT_LANGUAGE


def _split_language(path: str | Path) -> tuple[str, str | None]:
    stem = Path(path).name.removesuffix(".md")
    match = _LANGUAGE_SUFFIX.match(stem)
    return (stem, None) if match is None else (match["stem"], match["language"])


def parse_policy_file(path: str | Path) -> PolicyDocument:
    """Read and validate one policy file.

    Raises :class:`PolicyValidationError` listing every problem in the file.
    """
    path = Path(path)
    _stem, language = language_of_file(path)
    try:
        text = _read_text(path)
        header, body = _split_front_matter(text)
    except _Unusable as exc:
        raise PolicyValidationError([f"{path.name}: {exc.where}: {exc.what}"]) from None

    problems: list[tuple[str, str]] = []
    fields: dict[str, Any] = {}
    if not isinstance(header, dict):
        problems.append(("front matter", f"expected a mapping of fields, got {describe(header)}"))
    else:
        try:
            fields = PolicyHeaderSchema().load(header)
        except ValidationError as exc:
            problems.extend(field_problems(exc.messages))
    if not body.strip():
        # GDPR Art. 13/14: the header alone does not tell people their rights.
        problems.append(("body", "the policy text after the front matter is empty"))
    if problems:
        raise PolicyValidationError(f"{path.name}: {where}: {what}" for where, what in problems)
    return PolicyDocument(**fields, body=body, text=text, source=path.name, language=language)


def load_policy_dir(directory: str | Path) -> list[PolicyDocument]:
    """Load every English policy file in ``directory``, oldest first.

    All files, translations included, are validated before anything is
    returned (see :func:`load_policies`).
    """
    return [files.document for files in load_policies(directory)]


def load_policies(directory: str | Path) -> list[VersionFiles]:
    """Load every ``*.md`` policy file in ``directory``: each version with its translations.

    All files are validated before anything is returned; one
    :class:`PolicyValidationError` lists the problems of every file, clashes
    between files (a version label or effective date used twice), and every
    translation that differs from its English file or is in a language the
    app does not speak.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise PolicyValidationError([f"{directory}: not a directory"])
    paths = sorted(directory.glob("*.md"))
    if not paths:
        raise PolicyValidationError([f"{directory}: no policy files (*.md) found"])

    problems: list[str] = []
    english: dict[str, PolicyDocument | None] = {}
    translated: list[tuple[Path, str, str]] = []
    for path in paths:
        stem, language = _split_language(path)
        if language is not None:
            translated.append((path, stem, language))
            continue
        try:
            english[stem] = parse_policy_file(path)
        except PolicyValidationError as exc:
            english[stem] = None  # reported; its translations are not compared
            problems.extend(exc.problems)

    translations: dict[str, dict[str, PolicyDocument]] = {}
    for path, stem, language in translated:
        problem = _language_problem(path, stem, language, english)
        if problem is not None:
            problems.append(problem)
            continue
        try:
            document = parse_policy_file(path)
        except PolicyValidationError as exc:
            problems.extend(exc.problems)
            continue
        base = english[stem]
        if base is not None:
            problems.extend(translation_problems(base, document))
            translations.setdefault(stem, {})[language] = document

    documents = [d for d in english.values() if d is not None]
    problems.extend(_clashes(documents))
    if problems:
        raise PolicyValidationError(problems)
    stems = {id(d): stem for stem, d in english.items()}
    return sorted(
        (VersionFiles(d, translations.get(stems[id(d)], {})) for d in documents),
        key=lambda files: (files.document.effective_date, files.document.version),
    )


def _language_problem(path: Path, stem: str, language: str,
                      english: Mapping[str, PolicyDocument | None]) -> str | None:
    """Why ``path`` cannot be a translation, or None."""
    if language == DEFAULT_LANGUAGE:
        return (f"{path.name}: language: English is the canonical text; "
                f"name the file {stem}.md")
    if language not in LANGUAGES:
        return (f"{path.name}: language: {language!r} is not a language the app speaks "
                f"({', '.join(LANGUAGES)}); add the language to the app first")
    if stem not in english:
        return f"{path.name}: language: no English file {stem}.md for this translation"
    return None


def _clashes(documents: list[PolicyDocument]) -> list[str]:
    """A version label or an effective date that more than one file uses."""
    problems: list[str] = []
    first_with_version: dict[str, PolicyDocument] = {}
    first_with_date: dict[date, PolicyDocument] = {}
    for document in documents:
        earlier = first_with_version.setdefault(document.version, document)
        if earlier is not document:
            problems.append(
                f"{document.source}: version: duplicate version label {document.version!r} "
                f"(also in {earlier.source})"
            )
        earlier = first_with_date.setdefault(document.effective_date, document)
        if earlier is not document:
            # Two versions in force from the same day would make "the current
            # policy" ambiguous.
            problems.append(
                f"{document.source}: effective_date: {document.effective_date.isoformat()} "
                f"is also the effective date of {earlier.source}"
            )
    return problems


# --- the file --------------------------------------------------------------------


class _Unusable(Exception):
    """The file cannot be checked field by field: unreadable, not UTF-8, no header."""

    def __init__(self, where: str, what: str) -> None:
        super().__init__(f"{where}: {what}")
        self.where = where
        self.what = what


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise _Unusable("file", f"cannot be read: {exc.strerror}") from None
    try:
        # No newline translation: ``text`` must be byte-for-byte the file.
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Unusable("file", f"is not valid UTF-8 (at byte {exc.start})") from None


def _split_front_matter(text: str) -> tuple[Any, str]:
    """The parsed YAML header and the Markdown body after it."""
    content = text.removeprefix("\ufeff")
    match = _FRONT_MATTER.match(content)
    if match is None:
        raise _Unusable(
            "front matter",
            "missing: the file must start with a YAML header between two '---' lines",
        )
    try:
        # A SafeLoader subclass: builds plain data only.
        header = yaml.load(match["yaml"], Loader=_StrictLoader)  # noqa: S506  # nosec B506
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}, column {mark.column + 1}" if mark is not None else ""
        raise _Unusable(
            "front matter", f"invalid YAML{where}: {getattr(exc, 'problem', None) or exc}"
        ) from None
    return header, content[match.end() :]


# --- YAML -----------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """``yaml.safe_load`` minus the YAML 1.1 surprises.

    Only ``true``/``false`` are booleans (YAML 1.1 reads a country code ``NO``
    as false), dates stay text so a bad one gets a clear message instead of a
    constructor crash, and a key given twice is an error rather than silently
    keeping the last value.
    """


_BOOL_TAG = "tag:yaml.org,2002:bool"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_BOOL_TAG, _TIMESTAMP_TAG)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _construct_unique_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
            seen.add(key)
        except TypeError:  # unhashable key: construct_mapping reports it
            continue
        if duplicate:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"found duplicate key {key!r}",
                key_node.start_mark,
            )
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping
)
