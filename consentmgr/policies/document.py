"""Privacy-policy documents: one Markdown file per version, with a YAML header.

A file looks like this::

    ---
    version: "2026-03"
    effective_date: 2026-03-01
    summary: What changed, in a sentence or two.
    controller: {name: ..., address: ..., email: ...}
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

The header is data (what the portal, the consent ledger and the API read);
the body is the policy text that GDPR Art. 13/14 require. Parsing is strict
and reports every problem at once, each naming the file and the field, so a
broken policy can never be published half-checked.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "LEGAL_BASES",
    "Contact",
    "Controller",
    "DataCategory",
    "PolicyDocument",
    "PolicyValidationError",
    "Purpose",
    "Transfer",
    "load_policy_dir",
    "parse_policy_file",
]

# GDPR Art. 6(1)(a), (b), (c) and (f). Vital and public interests (d), (e)
# have no place in a retailer's policy, so a typo cannot smuggle them in.
LEGAL_BASES = ("consent", "contract", "legal-obligation", "legitimate-interest")

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# Version labels appear in URLs (/privacy/<version>).
_RESERVED_LABELS = {"versions", "compare"}
_VERSION_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_FRONT_MATTER = re.compile(
    r"\A---[ \t]*\r?\n(?P<yaml>.*?)^---[ \t]*\r?$\n?", re.DOTALL | re.MULTILINE
)


class PolicyValidationError(ValueError):
    """One or more policy files are invalid.

    ``problems`` holds every problem found, each ``"<file>: <field>: <what>"``.
    """

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        count = len(self.problems)
        heading = f"{count} problem{'s' if count != 1 else ''} in the privacy-policy files"
        super().__init__(heading + ":\n" + "\n".join(f"  - {p}" for p in self.problems))


@dataclass(frozen=True)
class Controller:
    """Who decides why and how the data is processed (GDPR Art. 13(1)(a))."""

    name: str
    address: str
    email: str

    def to_dict(self) -> dict[str, Any]:
        """Return the controller as JSON-ready data."""
        return {"name": self.name, "address": self.address, "email": self.email}


@dataclass(frozen=True)
class Contact:
    """A named contact, used for the data protection officer (GDPR Art. 13(1)(b))."""

    name: str
    email: str

    def to_dict(self) -> dict[str, Any]:
        """Return the contact as JSON-ready data."""
        return {"name": self.name, "email": self.email}


@dataclass(frozen=True)
class Transfer:
    """A transfer outside the EEA and its safeguard (GDPR Art. 13(1)(f), 44-46)."""

    recipient: str
    country: str
    safeguard: str

    def to_dict(self) -> dict[str, Any]:
        """Return the transfer as JSON-ready data."""
        return {"recipient": self.recipient, "country": self.country, "safeguard": self.safeguard}


@dataclass(frozen=True)
class DataCategory:
    """A kind of personal data and how long it is kept (GDPR Art. 13(2)(a)).

    ``retention_days`` is the machine value behind ``retention``: days counted
    from the event the data records (an order, a contact, a visit) or, for
    account data, from the closing of the account.
    """

    slug: str
    title: str
    description: str
    retention: str
    retention_days: int

    def to_dict(self) -> dict[str, Any]:
        """Return the category as JSON-ready data."""
        return {
            "slug": self.slug,
            "title": self.title,
            "description": self.description,
            "retention": self.retention,
            "retention_days": self.retention_days,
        }


@dataclass(frozen=True, kw_only=True)
class Purpose:
    """One purpose the company uses personal data for, as told to the customer.

    ``notice_hash`` is derived, never passed: the SHA-256 of the canonical JSON
    of :meth:`notice_fields`. The consent ledger records it with every grant
    so the exact notice a customer agreed to can be proven later (GDPR Art. 7(1)).
    """

    slug: str
    title: str
    description: str
    legal_basis: str
    interest: str | None = None
    data_categories: tuple[str, ...] = ()
    retention: str = ""
    recipients: tuple[str, ...] = ()
    transfers: tuple[Transfer, ...] = ()
    # CCPA/CPRA "sale or sharing": a Global Privacy Control signal opts out of it.
    sale_or_share: bool = False
    # GDPR Art. 21(2)-(3): an objection to direct marketing is absolute.
    direct_marketing: bool = False
    notice_hash: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "notice_hash", _hash_notice(self.notice_fields()))

    def notice_fields(self) -> dict[str, Any]:
        """Return the customer-facing fields that make up this purpose's notice."""
        return {
            "slug": self.slug,
            "title": self.title,
            "description": self.description,
            "legal_basis": self.legal_basis,
            "interest": self.interest,
            "data_categories": list(self.data_categories),
            "retention": self.retention,
            "recipients": list(self.recipients),
            "transfers": [t.to_dict() for t in self.transfers],
            "sale_or_share": self.sale_or_share,
            "direct_marketing": self.direct_marketing,
        }

    def to_dict(self) -> dict[str, Any]:
        """Return the purpose, with its notice hash, as JSON-ready data."""
        return {**self.notice_fields(), "notice_hash": self.notice_hash}


@dataclass(frozen=True, kw_only=True)
class PolicyDocument:
    """One published version of the privacy policy.

    ``text`` is the whole file exactly as stored and ``sha256`` the hex digest
    of its UTF-8 bytes, so a published version can be proven unchanged.
    ``body`` is the Markdown after the front matter; ``source`` the file name.
    """

    version: str
    effective_date: date
    summary: str
    controller: Controller
    dpo: Contact
    purposes: tuple[Purpose, ...]
    data_categories: tuple[DataCategory, ...]
    body: str
    text: str
    source: str = ""
    sha256: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha256", hashlib.sha256(self.text.encode("utf-8")).hexdigest())

    def purpose(self, slug: str) -> Purpose | None:
        """Return the purpose with ``slug``, or None if this version has none."""
        return next((p for p in self.purposes if p.slug == slug), None)

    def data_category(self, slug: str) -> DataCategory | None:
        """Return the data category with ``slug``, or None if not declared."""
        return next((c for c in self.data_categories if c.slug == slug), None)

    def to_dict(self, *, include_body: bool = True) -> dict[str, Any]:
        """Return the version as JSON-ready data (the body optionally left out)."""
        data: dict[str, Any] = {
            "version": self.version,
            "effective_date": self.effective_date.isoformat(),
            "summary": self.summary,
            "sha256": self.sha256,
            "controller": self.controller.to_dict(),
            "dpo": self.dpo.to_dict(),
            "purposes": [p.to_dict() for p in self.purposes],
            "data_categories": [c.to_dict() for c in self.data_categories],
        }
        if include_body:
            data["body"] = self.body
        return data


def parse_policy_file(path: str | Path) -> PolicyDocument:
    """Read and validate one policy file.

    Raises :class:`PolicyValidationError` listing every problem in the file.
    """
    checker = _Checker(Path(path).name)
    document = _parse(Path(path), checker)
    if checker.problems or document is None:
        raise PolicyValidationError(checker.problems)
    return document


def load_policy_dir(directory: str | Path) -> list[PolicyDocument]:
    """Load every ``*.md`` policy file in ``directory``, oldest first.

    All files are validated before anything is returned; one
    :class:`PolicyValidationError` lists the problems of every file, plus
    clashes between files (a version label or effective date used twice).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise PolicyValidationError([f"{directory}: not a directory"])
    paths = sorted(directory.glob("*.md"))
    if not paths:
        raise PolicyValidationError([f"{directory}: no policy files (*.md) found"])

    problems: list[str] = []
    documents: list[PolicyDocument] = []
    for path in paths:
        try:
            documents.append(parse_policy_file(path))
        except PolicyValidationError as exc:
            problems.extend(exc.problems)

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
    if problems:
        raise PolicyValidationError(problems)
    return sorted(documents, key=lambda d: (d.effective_date, d.version))


def _hash_notice(fields: Mapping[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --- YAML -----------------------------------------------------------------


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


# --- validation -----------------------------------------------------------

_MISSING = object()


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"text {value!r}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _at(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


class _Checker:
    """Collects problems as ``"<file>: <field>: <message>"`` and reads typed fields."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(f"{self.source}: {path}: {message}")

    def value(self, data: Mapping[str, Any], key: str, path: str, *, required: bool = True) -> Any:
        value = data.get(key, _MISSING)
        if value is _MISSING:
            if required:
                self.problem(_at(path, key), "missing required field")
            return _MISSING
        if value is None or (isinstance(value, str) and not value.strip()):
            self.problem(_at(path, key), "must not be empty")
            return _MISSING
        return value

    def text(
        self, data: Mapping[str, Any], key: str, path: str, *, required: bool = True
    ) -> str | None:
        value = self.value(data, key, path, required=required)
        if value is _MISSING:
            return None
        if not isinstance(value, str):
            self.problem(
                _at(path, key), f"expected text, got {_describe(value)} (put it in quotes)"
            )
            return None
        return value.strip()

    def slug(self, data: Mapping[str, Any], key: str, path: str) -> str | None:
        value = self.text(data, key, path)
        if value is not None and not _SLUG.match(value):
            self.problem(
                _at(path, key), f"{value!r} is not a slug (lower-case letters, digits and '-')"
            )
            return None
        return value

    def email(self, data: Mapping[str, Any], key: str, path: str) -> str | None:
        value = self.text(data, key, path)
        if value is not None and not _EMAIL.match(value):
            self.problem(_at(path, key), f"{value!r} is not an email address")
            return None
        return value

    def boolean(
        self, data: Mapping[str, Any], key: str, path: str, *, required: bool = True
    ) -> bool | None:
        value = self.value(data, key, path, required=required)
        if value is _MISSING:
            return None
        if not isinstance(value, bool):
            self.problem(_at(path, key), f"expected true or false, got {_describe(value)}")
            return None
        return value

    def iso_date(self, data: Mapping[str, Any], key: str, path: str) -> date | None:
        value = self.value(data, key, path)
        if value is _MISSING:
            return None
        if type(value) is date:  # an explicit !!timestamp; a datetime is not a date here
            return value
        if isinstance(value, str) and _ISO_DATE.match(value.strip()):
            try:
                return date.fromisoformat(value.strip())
            except ValueError as exc:
                self.problem(_at(path, key), f"invalid date {value!r}: {exc}")
                return None
        self.problem(_at(path, key), f"expected an ISO date (YYYY-MM-DD), got {_describe(value)}")
        return None

    def mapping(self, value: Any, path: str, allowed: Iterable[str]) -> Mapping[str, Any] | None:
        if not isinstance(value, dict):
            self.problem(
                path or "front matter", f"expected a mapping of fields, got {_describe(value)}"
            )
            return None
        allowed = set(allowed)
        for key in value:
            if key not in allowed:
                # Unknown keys are usually typos of optional fields, which
                # would otherwise silently fall back to their default.
                self.problem(
                    _at(path, str(key)),
                    f"unknown field (expected one of {', '.join(sorted(allowed))})",
                )
        return value

    def items(
        self, data: Mapping[str, Any], key: str, path: str, *, allow_empty: bool
    ) -> list[Any] | None:
        value = data.get(key, _MISSING)
        if value is _MISSING:
            self.problem(
                _at(path, key),
                "missing required field" + (" (use [] for none)" if allow_empty else ""),
            )
            return None
        if value is None and allow_empty:
            return []
        if not isinstance(value, list):
            self.problem(_at(path, key), f"expected a list, got {_describe(value)}")
            return None
        if not value and not allow_empty:
            self.problem(_at(path, key), "must list at least one entry")
            return None
        return value

    def text_list(
        self, data: Mapping[str, Any], key: str, path: str, *, allow_empty: bool
    ) -> tuple[str, ...] | None:
        values = self.items(data, key, path, allow_empty=allow_empty)
        if values is None:
            return None
        result: list[str] = []
        for index, value in enumerate(values):
            if not isinstance(value, str) or not value.strip():
                self.problem(_at(_at(path, key), index), f"expected text, got {_describe(value)}")
            else:
                result.append(value.strip())
        return tuple(result) if len(result) == len(values) else None


_TOP_FIELDS = (
    "version",
    "effective_date",
    "summary",
    "controller",
    "dpo",
    "purposes",
    "data_categories",
)
_CONTROLLER_FIELDS = ("name", "address", "email")
_DPO_FIELDS = ("name", "email")
_CATEGORY_FIELDS = ("slug", "title", "description", "retention", "retention_days")
_TRANSFER_FIELDS = ("recipient", "country", "safeguard")
_PURPOSE_FIELDS = (
    "slug",
    "title",
    "description",
    "legal_basis",
    "interest",
    "data_categories",
    "retention",
    "recipients",
    "transfers",
    "sale_or_share",
    "direct_marketing",
)


def _parse(path: Path, check: _Checker) -> PolicyDocument | None:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        check.problem("file", f"cannot be read: {exc.strerror}")
        return None
    try:
        # No newline translation: ``text`` must be byte-for-byte the file.
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        check.problem("file", f"is not valid UTF-8 (at byte {exc.start})")
        return None

    match = _FRONT_MATTER.match(text.removeprefix("\ufeff"))
    if match is None:
        check.problem(
            "front matter",
            "missing: the file must start with a YAML header between two '---' lines",
        )
        return None
    try:
        data = yaml.load(match["yaml"], Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}, column {mark.column + 1}" if mark is not None else ""
        check.problem(
            "front matter", f"invalid YAML{where}: {getattr(exc, 'problem', None) or exc}"
        )
        return None
    if check.mapping(data, "", _TOP_FIELDS) is None:
        return None

    version = check.text(data, "version", "")
    if version is not None and not _VERSION_LABEL.match(version):
        check.problem("version", f"{version!r} may contain only letters, digits, '.', '_' and '-'")
    elif version in _RESERVED_LABELS:
        # /privacy/versions and /privacy/compare are pages of their own.
        check.problem("version", f"{version!r} is reserved; choose another label")
    effective_date = check.iso_date(data, "effective_date", "")
    summary = check.text(data, "summary", "")
    controller = _parse_controller(data, check)
    dpo = _parse_dpo(data, check)
    categories = _parse_categories(data, check)
    purposes = _parse_purposes(data, check, _declared_slugs(data.get("data_categories")))
    body = text.removeprefix("\ufeff")[match.end() :]
    if not body.strip():
        # GDPR Art. 13/14: the header alone does not tell people their rights.
        check.problem("body", "the policy text after the front matter is empty")

    if check.problems:
        return None
    return PolicyDocument(
        version=version,
        effective_date=effective_date,
        summary=summary,
        controller=controller,
        dpo=dpo,
        purposes=purposes,
        data_categories=categories,
        body=body,
        text=text,
        source=path.name,
    )


def _parse_controller(data: Mapping[str, Any], check: _Checker) -> Controller | None:
    value = check.value(data, "controller", "")
    if value is _MISSING or check.mapping(value, "controller", _CONTROLLER_FIELDS) is None:
        return None
    fields = (
        check.text(value, "name", "controller"),
        check.text(value, "address", "controller"),
        check.email(value, "email", "controller"),
    )
    return None if None in fields else Controller(*fields)


def _parse_dpo(data: Mapping[str, Any], check: _Checker) -> Contact | None:
    value = check.value(data, "dpo", "")
    if value is _MISSING or check.mapping(value, "dpo", _DPO_FIELDS) is None:
        return None
    fields = (check.text(value, "name", "dpo"), check.email(value, "email", "dpo"))
    return None if None in fields else Contact(*fields)


def _declared_slugs(entries: Any) -> set[str] | None:
    """Every slug the categories list names, valid entry or not, so one broken
    category does not also flag each purpose that uses it."""
    if not isinstance(entries, list):
        return None
    return {
        e["slug"].strip() for e in entries if isinstance(e, dict) and isinstance(e.get("slug"), str)
    }


def _parse_categories(data: Mapping[str, Any], check: _Checker) -> tuple[DataCategory, ...] | None:
    entries = check.items(data, "data_categories", "", allow_empty=False)
    if entries is None:
        return None
    categories: list[DataCategory] = []
    first_index: dict[str, int] = {}
    for index, entry in enumerate(entries):
        path = _at("data_categories", index)
        if check.mapping(entry, path, _CATEGORY_FIELDS) is None:
            continue
        slug = check.slug(entry, "slug", path)
        if slug is not None and first_index.setdefault(slug, index) != index:
            check.problem(
                _at(path, "slug"),
                f"duplicate data category {slug!r} (also data_categories[{first_index[slug]}])",
            )
        title = check.text(entry, "title", path)
        description = check.text(entry, "description", path)
        retention = check.text(entry, "retention", path)
        days = check.value(entry, "retention_days", path)
        if days is not _MISSING and (
            isinstance(days, bool) or not isinstance(days, int) or days < 1
        ):
            check.problem(
                _at(path, "retention_days"),
                f"expected a whole number of days, at least 1, got {_describe(days)}",
            )
            days = _MISSING
        if None not in (slug, title, description, retention) and days is not _MISSING:
            categories.append(DataCategory(slug, title, description, retention, days))
    return tuple(categories)


def _parse_purposes(
    data: Mapping[str, Any], check: _Checker, categories: set[str] | None
) -> tuple[Purpose, ...] | None:
    """Parse the purposes; ``categories`` is None when the declared ones are unknown."""
    entries = check.items(data, "purposes", "", allow_empty=False)
    if entries is None:
        return None
    purposes: list[Purpose] = []
    first_index: dict[str, int] = {}
    for index, entry in enumerate(entries):
        path = _at("purposes", index)
        if check.mapping(entry, path, _PURPOSE_FIELDS) is None:
            continue
        before = len(check.problems)
        slug = check.slug(entry, "slug", path)
        if slug is not None and first_index.setdefault(slug, index) != index:
            # The slug is the purpose's identity in the consent ledger.
            check.problem(
                _at(path, "slug"),
                f"duplicate purpose slug {slug!r} (also purposes[{first_index[slug]}])",
            )
        legal_basis = check.text(entry, "legal_basis", path)
        if legal_basis is not None and legal_basis not in LEGAL_BASES:
            check.problem(
                _at(path, "legal_basis"),
                f"unknown legal basis {legal_basis!r} (expected one of {', '.join(LEGAL_BASES)})",
            )
        interest = check.text(entry, "interest", path, required=False)
        if legal_basis == "legitimate-interest" and "interest" not in entry:
            # GDPR Art. 13(1)(d): the legitimate interest pursued must be stated.
            check.problem(
                _at(path, "interest"),
                "missing: legal_basis legitimate-interest must state the interest pursued",
            )
        elif (
            interest is not None
            and legal_basis in LEGAL_BASES
            and legal_basis != "legitimate-interest"
        ):
            check.problem(
                _at(path, "interest"), "only allowed when legal_basis is legitimate-interest"
            )
        used = check.text_list(entry, "data_categories", path, allow_empty=False) or ()
        for position, category in enumerate(used):
            if categories is not None and category not in categories:
                declared = ", ".join(sorted(categories)) or "none"
                check.problem(
                    _at(_at(path, "data_categories"), position),
                    f"unknown data category {category!r} (declared: {declared})",
                )
        purpose = Purpose(
            slug=slug or "",
            title=check.text(entry, "title", path) or "",
            description=check.text(entry, "description", path) or "",
            legal_basis=legal_basis or "",
            interest=interest,
            data_categories=used,
            retention=check.text(entry, "retention", path) or "",
            recipients=check.text_list(entry, "recipients", path, allow_empty=True) or (),
            transfers=_parse_transfers(entry, check, path),
            sale_or_share=bool(check.boolean(entry, "sale_or_share", path)),
            direct_marketing=bool(check.boolean(entry, "direct_marketing", path, required=False)),
        )
        if len(check.problems) == before:
            purposes.append(purpose)
    return tuple(purposes)


def _parse_transfers(entry: Mapping[str, Any], check: _Checker, path: str) -> tuple[Transfer, ...]:
    # GDPR Art. 13(1)(f): every transfer outside the EEA names its safeguard.
    entries = check.items(entry, "transfers", path, allow_empty=True) or []
    transfers: list[Transfer] = []
    for index, item in enumerate(entries):
        item_path = _at(_at(path, "transfers"), index)
        if check.mapping(item, item_path, _TRANSFER_FIELDS) is None:
            continue
        fields = tuple(check.text(item, key, item_path) for key in _TRANSFER_FIELDS)
        if None not in fields:
            transfers.append(Transfer(*fields))
    return tuple(transfers)
