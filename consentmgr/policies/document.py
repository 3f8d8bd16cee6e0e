"""Privacy-policy documents as immutable values: a version, its purposes and data categories.

A :class:`PolicyDocument` is what one policy file says once it has been read
and checked (:mod:`consentmgr.policies.loader`), and what a published version
stores (:meth:`PolicyDocument.to_dict`, rebuilt by
:meth:`PolicyDocument.from_dict`). Nothing here reads files or validates
input: these classes hold data that is already known to be good.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

__all__ = [
    "LEGAL_BASES",
    "Contact",
    "Controller",
    "DataCategory",
    "PolicyDocument",
    "PolicyValidationError",
    "PostalAddress",
    "Purpose",
    "Transfer",
]

# GDPR Art. 6(1)(a), (b), (c) and (f). Vital and public interests (d), (e)
# have no place in a retailer's policy, so a typo cannot smuggle them in.
LEGAL_BASES = ("consent", "contract", "legal-obligation", "legitimate-interest")


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
class PostalAddress:
    """The controller's address in parts, for machines (schema.org ``PostalAddress`` names them).

    ``country`` is an ISO 3166-1 alpha-2 code (``DE``); ``region`` is optional.
    """

    street_address: str
    postal_code: str
    locality: str
    country: str
    region: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the address as JSON-ready data (no ``region`` key when there is none)."""
        data = {"street_address": self.street_address, "postal_code": self.postal_code,
                "locality": self.locality, "country": self.country}
        if self.region is not None:
            data["region"] = self.region
        return data


@dataclass(frozen=True)
class Controller:
    """Who decides why and how the data is processed (GDPR Art. 13(1)(a)).

    ``address`` is the address as printed (lines); ``postal_address`` the same
    address in parts and ``phone`` a telephone number, both for the Kantara
    consent receipt. Versions published before those two existed have
    neither (None): see :mod:`consentmgr.consent.receipts` for what receipts
    then say.
    """

    name: str
    address: str
    email: str
    phone: str | None = None
    postal_address: PostalAddress | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the controller as JSON-ready data (optional parts only when present,
        so a version published without them is stored, and compared, as before)."""
        data: dict[str, Any] = {"name": self.name, "address": self.address, "email": self.email}
        if self.phone is not None:
            data["phone"] = self.phone
        if self.postal_address is not None:
            data["postal_address"] = self.postal_address.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Controller:
        """Rebuild a controller from :meth:`to_dict`'s data (with or without the optional parts)."""
        postal = data.get("postal_address")
        return cls(name=data["name"], address=data["address"], email=data["email"],
                   phone=data.get("phone"),
                   postal_address=PostalAddress(**postal) if postal is not None else None)


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
    # How many days a consent to this purpose lasts from the grant (None: until
    # withdrawn). Consent purposes only; the customer is asked again after it.
    valid_for_days: int | None = None
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
            # Only when set: purposes published before it existed keep their notice hash.
            **({"valid_for_days": self.valid_for_days} if self.valid_for_days is not None else {}),
        }

    def to_dict(self) -> dict[str, Any]:
        """Return the purpose, with its notice hash, as JSON-ready data."""
        return {**self.notice_fields(), "notice_hash": self.notice_hash}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Purpose:
        """Rebuild a purpose from :meth:`to_dict`'s data; the notice hash is derived again."""
        fields = {k: v for k, v in data.items() if k != "notice_hash"}
        return cls(
            **{
                **fields,
                "data_categories": tuple(fields["data_categories"]),
                "recipients": tuple(fields["recipients"]),
                "transfers": tuple(Transfer(**t) for t in fields["transfers"]),
            }
        )


@dataclass(frozen=True, kw_only=True)
class PolicyDocument:
    """One published version of the privacy policy.

    ``text`` is the whole file exactly as stored and ``sha256`` the hex digest
    of its UTF-8 bytes, so a published version can be proven unchanged.
    ``body`` is the Markdown after the front matter; ``source`` the file name;
    ``language`` the language the document is written in (English, ``"en"``,
    is the canonical text; a translation's file is ``<version>.<language>.md``).
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
    #: Close and erase a customer's account after this many days without activity
    #: (:mod:`consentmgr.requests.inactivity`); None: accounts stay open however quiet.
    inactive_after_days: int | None = None
    language: str = "en"
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
        if self.inactive_after_days is not None:
            data["inactive_after_days"] = self.inactive_after_days
        if include_body:
            data["body"] = self.body
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, text: str, source: str = "",
                  language: str = "en") -> PolicyDocument:
        """Rebuild a document from :meth:`to_dict`'s data (with the body) and its file's text."""
        return cls(
            version=data["version"],
            effective_date=date.fromisoformat(data["effective_date"]),
            summary=data["summary"],
            controller=Controller.from_dict(data["controller"]),
            dpo=Contact(**data["dpo"]),
            purposes=tuple(Purpose.from_dict(p) for p in data["purposes"]),
            data_categories=tuple(DataCategory(**c) for c in data["data_categories"]),
            body=data["body"],
            text=text,
            source=source,
            inactive_after_days=data.get("inactive_after_days"),
            language=language,
        )


def _hash_notice(fields: Mapping[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
