"""The record of processing activities (GDPR Art. 30(1)), per purpose of a published policy.

Built from a published policy version -- controller and DPO, each
purpose's legal basis, data categories, recipients, transfers and retention
-- and from the measures in force (:mod:`consentmgr.processing.measures`).
Versioned with the policy: the record of any published version can be
produced, with the measures as they are now. The words this module adds
(legal bases, data subjects, CSV headings) are in the language of the page
or download being made; the JSON's keys stay English (read by programs).

Art. 30(1): (a) controller and DPO, (b) purposes, (c) categories of data
subjects and of personal data, (d) recipients, (e) transfers to third
countries with their safeguards, (f) time limits for erasure, (g) the
technical and organisational measures.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from consentmgr.i18n import lazy_gettext
from consentmgr.policies.document import PolicyDocument, Purpose
from consentmgr.processing.measures import AREA_TITLES, Measure
from consentmgr.text import spreadsheet_cell

#: Whom every purpose of the shipped policies concerns. The policy files name
#: no other group (Art. 30(1)(c)); a purpose about others would add a field.
DATA_SUBJECTS = lazy_gettext(
    "Customers (people with an account, an order or a newsletter subscription)")

LEGAL_BASIS_TEXT = {
    "consent": lazy_gettext("Consent (GDPR Art. 6(1)(a))"),
    "contract": lazy_gettext("Performance of a contract (GDPR Art. 6(1)(b))"),
    "legal-obligation": lazy_gettext("Legal obligation (GDPR Art. 6(1)(c))"),
    "legitimate-interest": lazy_gettext("Legitimate interests (GDPR Art. 6(1)(f))"),
}

CSV_COLUMNS = ("policy_version", "controller", "dpo", "purpose", "title", "description",
               "legal_basis", "legitimate_interest", "data_subjects", "data_categories",
               "recipients", "transfers", "retention", "measures")
# The CSV's heading row: the column keys in English, translated for a download in German.
CSV_HEADINGS = {
    "policy_version": lazy_gettext("policy_version"), "controller": lazy_gettext("controller"),
    "dpo": lazy_gettext("dpo"), "purpose": lazy_gettext("purpose"), "title": lazy_gettext("title"),
    "description": lazy_gettext("description"), "legal_basis": lazy_gettext("legal_basis"),
    "legitimate_interest": lazy_gettext("legitimate_interest"),
    "data_subjects": lazy_gettext("data_subjects"),
    "data_categories": lazy_gettext("data_categories"), "recipients": lazy_gettext("recipients"),
    "transfers": lazy_gettext("transfers"), "retention": lazy_gettext("retention"),
    "measures": lazy_gettext("measures"),
}


@dataclass(frozen=True)
class CategoryEntry:
    """A category of personal data a purpose uses, with its time limit for erasure."""

    slug: str
    title: str
    retention: str


@dataclass(frozen=True)
class ProcessingActivity:
    """One purpose as Art. 30(1) describes it."""

    purpose: Purpose
    legal_basis: str
    data_subjects: str
    categories: tuple[CategoryEntry, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        p = self.purpose
        return {
            "purpose": p.slug, "title": p.title, "description": p.description,
            "legal_basis": p.legal_basis, "legal_basis_text": self.legal_basis,
            "legitimate_interest": p.interest, "data_subjects": self.data_subjects,
            "data_categories": [{"slug": c.slug, "title": c.title, "retention": c.retention}
                                for c in self.categories],
            "recipients": list(p.recipients),
            "transfers": [t.to_dict() for t in p.transfers],
            "retention": p.retention,
        }


@dataclass(frozen=True)
class ProcessingRecord:
    """The whole record for one policy version."""

    document: PolicyDocument
    activities: tuple[ProcessingActivity, ...]
    measures: tuple[Measure, ...]

    @property
    def measures_by_area(self) -> list[tuple[str, list[Measure]]]:
        """``(area title, measures)`` in the order of :data:`AREA_TITLES`."""
        return [(title, [m for m in self.measures if m.area == area])
                for area, title in AREA_TITLES.items()
                if any(m.area == area for m in self.measures)]

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready data."""
        d = self.document
        return {
            "policy_version": d.version,
            "effective_date": d.effective_date.isoformat(),
            "policy_sha256": d.sha256,
            "controller": d.controller.to_dict(),
            "dpo": d.dpo.to_dict(),
            "activities": [a.to_dict() for a in self.activities],
            "measures": [m.to_dict() for m in self.measures],
        }


def build_record(document: PolicyDocument, measures: list[Measure]) -> ProcessingRecord:
    """The Art. 30(1) record of ``document``'s purposes with the ``measures`` in force."""
    activities = []
    for purpose in document.purposes:
        categories = []
        for slug in purpose.data_categories:
            category = document.data_category(slug)
            categories.append(CategoryEntry(
                slug, category.title if category else slug,
                category.retention if category else purpose.retention))
        activities.append(ProcessingActivity(
            purpose=purpose, legal_basis=str(LEGAL_BASIS_TEXT.get(purpose.legal_basis,
                                                                  purpose.legal_basis)),
            data_subjects=str(DATA_SUBJECTS), categories=tuple(categories)))
    return ProcessingRecord(document=document, activities=tuple(activities),
                            measures=tuple(measures))


def record_csv(record: ProcessingRecord) -> str:
    """One row per purpose; lists joined with "; "; the measures named in every row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([str(CSV_HEADINGS[c]) for c in CSV_COLUMNS])
    d = record.document
    measures = "; ".join(f"{m.name}: {m.detail}" for m in record.measures)
    for activity in record.activities:
        p = activity.purpose
        row = {
            "policy_version": d.version,
            "controller": f"{d.controller.name}, {d.controller.email}",
            "dpo": f"{d.dpo.name}, {d.dpo.email}",
            "purpose": p.slug, "title": p.title, "description": p.description,
            "legal_basis": activity.legal_basis, "legitimate_interest": p.interest or "",
            "data_subjects": activity.data_subjects,
            "data_categories": "; ".join(f"{c.title} ({c.retention})"
                                         for c in activity.categories),
            "recipients": "; ".join(p.recipients),
            "transfers": "; ".join(f"{t.recipient}, {t.country}: {t.safeguard}"
                                   for t in p.transfers),
            "retention": p.retention, "measures": measures,
        }
        writer.writerow([spreadsheet_cell(row[c]) for c in CSV_COLUMNS])
    return buffer.getvalue()
