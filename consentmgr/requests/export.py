"""The customer's copy of their data (GDPR Art. 15(3) access, Art. 20 portability), as a ZIP.

:func:`export_customer` streams one archive:

- ``data.json`` — everything, in the versioned schema documented in
  ``docs/export-format.md`` (header ``format``/``version``/``generated_at``;
  the customer's fields and preferences, history, consent events each with
  its signed receipt, the staff access log, the data-subject requests);
- ``history.csv``, ``consent_events.csv``, ``access_log.csv``,
  ``requests.csv`` — the same rows for a spreadsheet;
- ``README.txt`` — the Art. 15(1)(a)-(h) information from the policy in
  effect, in plain words.

It is a stream because a long-standing customer may have tens of thousands
of history entries: ``zipfile`` writes into a small sink that the generator
drains every ~64 KiB, and history is read in batches of raw columns (no ORM
object per row), each value decrypted with the unit of work's data keys. So
memory stays flat whatever the history's length (``benchmarks/export.py``).

The boundary records the hand-out first (:func:`record_export`, in its unit
of work), then streams: an export that leaves the building is accountable
even if the download breaks off. The stream runs in the session it was
started in, so a web view wraps it in ``flask.stream_with_context``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import textwrap
import uuid
import zipfile
from typing import Any, Iterable, Iterator

import sqlalchemy as sa
from sqlalchemy.orm import Session

from consentmgr.actors import Actor
from consentmgr.audit import actions
from consentmgr.audit import services as audit
from consentmgr.consent.models import ConsentEvent
from consentmgr.consent.receipts import issue_receipt
from consentmgr.crypto.codecs import TEXT
from consentmgr.crypto.signing import PrivateKey
from consentmgr.customers.models import Customer, CustomerStatus, HistoryEntry
from consentmgr.customers.services import CustomerErased
from consentmgr.errors import ValidationFailed
from consentmgr.extensions import db
from consentmgr.keys.columns import ColumnDecrypter
from consentmgr.policies.document import PolicyDocument
from consentmgr.policies.services import PolicyNotFound, current_version, document_of
from consentmgr.requests.models import Channel, DataSubjectRequest
from consentmgr.runtime import of_session
from consentmgr.sql import utcnow
from consentmgr.staff.access_log import StaffAccess, staff_accesses
from consentmgr.text import spreadsheet_cell

__all__ = [
    "EXPORT_FORMAT",
    "EXPORT_FORMAT_VERSION",
    "export_customer",
    "export_filename",
    "record_export",
]

#: What ``data.json`` says it is; the version changes with any incompatible change.
EXPORT_FORMAT = "consentmgr-export"
EXPORT_FORMAT_VERSION = 1

_UNREAD = object()
_BATCH = 500  # rows fetched (and decrypted) at a time
_CHUNK = 64 * 1024  # bytes handed to the client at a time
_WIDTH = 78

HISTORY_COLUMNS = ("id", "occurred_at", "channel", "kind", "data_category", "summary",
                   "details", "created_at")
EVENT_COLUMNS = ("id", "occurred_at", "purpose", "action", "status", "channel",
                 "policy_version", "notice_hash", "language", "collected_at", "gpc", "note",
                 "receipt")
ACCESS_COLUMNS = ("occurred_at", "action", "staff_name", "staff_role", "fields",
                  "reason_code", "reason")
REQUEST_COLUMNS = ("id", "type", "status", "channel", "purpose", "received_at", "due_at",
                   "extended_due_at", "completed_at", "outcome", "refusal_reason",
                   "explanation", "extension_reason", "notes")


# ---------------------------------------------------------------- the public face


def export_filename(customer: Customer, *, now: dt.datetime | None = None) -> str:
    """The archive's file name: the customer's id and the date, nothing personal."""
    return f"my-data-{customer.id}-{(now or utcnow()):%Y-%m-%d}.zip"


def record_export(customer: Customer, *, actor: Actor, channel: str) -> None:
    """Record that the customer's export was handed out (``customer.exported``).

    The entry names the channel and the format version, never a value.
    Flushes, never commits: the boundary commits before it streams.
    """
    if customer.status == CustomerStatus.ERASED:
        raise CustomerErased()
    try:
        channel = Channel(channel)
    except ValueError:
        raise ValidationFailed({"channel": ["Use portal, staff or api."]}) from None
    audit.record(actions.CUSTOMER_EXPORTED, actor=actor, subject_id=customer.id,
                 details={"channel": channel.value, "format_version": EXPORT_FORMAT_VERSION})


def export_customer(
    customer: Customer, *, receipt_signing_key: PrivateKey, now: dt.datetime | None = None,
) -> Iterator[bytes]:
    """The customer's export as ZIP bytes, in chunks (see the module docstring).

    Raises :class:`CustomerErased` at once, before the first chunk: an
    erased record has nothing left to give. ``receipt_signing_key`` signs
    each consent event's receipt (the boundary passes the runtime's key).
    """
    if customer.status == CustomerStatus.ERASED:
        raise CustomerErased()
    return _Export(customer.id, receipt_signing_key, now or utcnow()).chunks()


# ---------------------------------------------------------------- the stream


class _Sink:
    """A write-only, unseekable file for ``zipfile``: holds bytes until drained.

    Without ``seek`` zipfile streams: each entry is followed by a data
    descriptor with its sizes and CRC, so nothing is written twice.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._position = 0

    def write(self, data: bytes) -> int:
        self._buffer += data
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        pass

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def drain(self) -> bytes:
        data = bytes(self._buffer)
        self._buffer.clear()
        return data


class _Export:
    """One customer's export being written: reads in batches, yields ~64 KiB chunks."""

    def __init__(self, customer_id: uuid.UUID, signing_key: PrivateKey, now: dt.datetime) -> None:
        self.customer_id = customer_id
        self.signing_key = signing_key
        self.generated_at = now
        self.session: Session
        self.customer: Customer
        self.counts: dict[str, int] = {}
        self.sink = _Sink()
        self._document: PolicyDocument | None | object = _UNREAD

    def chunks(self) -> Iterator[bytes]:
        # The session is taken when the body is sent, not when the view ran:
        # a streamed response runs after the view's context (and its session)
        # was torn down, in contexts pushed again for the stream.
        self.session = db.session()
        self.customer = self.session.get(Customer, self.customer_id)
        if self.customer is None or self.customer.status == CustomerStatus.ERASED:
            raise CustomerErased()
        sink = self.sink
        with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, write in (
                ("data.json", self._data_json),
                ("history.csv", self._history_csv),
                ("consent_events.csv", self._events_csv),
                ("access_log.csv", self._access_csv),
                ("requests.csv", self._requests_csv),
                ("README.txt", self._readme),
            ):
                info = zipfile.ZipInfo(name, self.generated_at.timetuple()[:6])
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16  # -rw-r--r-- when unpacked
                with archive.open(info, "w") as raw:
                    text = io.TextIOWrapper(raw, encoding="utf-8", newline="", write_through=False)
                    # Each writer yields between rows; a full sink is handed on.
                    for _ in write(text):
                        if sink.pending >= _CHUNK:
                            text.flush()
                            yield sink.drain()
                    text.flush()
                    text.detach()
                if sink.pending >= _CHUNK:
                    yield sink.drain()
        yield sink.drain()  # the rest, and the central directory

    # -- data.json

    def _data_json(self, out: io.TextIOWrapper) -> Iterator[None]:
        dump = _json_dumps
        header = {
            "format": EXPORT_FORMAT,
            "version": EXPORT_FORMAT_VERSION,
            "generated_at": _iso(self.generated_at),
            "policy_version": self._policy_label(),
            "customer": _customer_record(self.customer),
        }
        # The header's closing brace is left open: the lists follow, row by row.
        out.write(dump(header)[:-1])
        for key, items in (
            ("history", map(_history_json, self._history_rows())),
            ("consent_events", map(dump, self._event_rows())),
            ("access_log", (dump(_access_record(a)) for a in self._accesses())),
            ("requests", map(dump, self._request_rows())),
        ):
            out.write(f',\n"{key}":[')
            count = 0
            for item in items:
                out.write(",\n" if count else "\n")
                out.write(item)
                count += 1
                yield
            out.write("\n]" if count else "]")
            self.counts[key] = count
        out.write("}\n")
        yield

    # -- CSV files

    def _history_csv(self, out: io.TextIOWrapper) -> Iterator[None]:
        return _csv_rows(out, HISTORY_COLUMNS, map(_history_cells, self._history_rows()))

    def _events_csv(self, out: io.TextIOWrapper) -> Iterator[None]:
        return _csv_rows(out, EVENT_COLUMNS, _cells(EVENT_COLUMNS, self._event_rows()))

    def _access_csv(self, out: io.TextIOWrapper) -> Iterator[None]:
        return _csv_rows(out, ACCESS_COLUMNS,
                         _cells(ACCESS_COLUMNS, map(_access_record, self._accesses())))

    def _requests_csv(self, out: io.TextIOWrapper) -> Iterator[None]:
        return _csv_rows(out, REQUEST_COLUMNS, _cells(REQUEST_COLUMNS, self._request_rows()))

    # -- README.txt

    def _readme(self, out: io.TextIOWrapper) -> Iterator[None]:
        out.write(_readme_text(self.customer, self._policy(), self.generated_at, self.counts,
                               self._policy_url(), of_session(self.session).links.home()))
        yield

    # -- reading

    def _policy(self) -> PolicyDocument | None:
        """The policy in effect on the export's day (read once), or None if none is yet."""
        if self._document is _UNREAD:
            try:
                self._document = document_of(current_version(self.generated_at.date()))
            except PolicyNotFound:
                self._document = None
        return self._document

    def _policy_label(self) -> str | None:
        document = self._policy()
        return document.version if document else None

    def _policy_url(self) -> str | None:
        document = self._policy()
        return of_session(self.session).links.policy(document.version) if document else None

    def _history_rows(self) -> Iterator[tuple[str | None, ...]]:
        """History, oldest first, as text in :data:`HISTORY_COLUMNS` order.

        Read as raw columns in batches: no ORM object per row (10,000
        entries as objects took more than twice as long, see
        ``benchmarks/README.md``), each value decrypted with the same data
        keys and associated data as the model's fields. ``details`` stays
        the canonical JSON text it was encrypted as: parsing it only to
        write it out again was a fifth of the time.
        """
        table = HistoryEntry.__table__
        c = table.c
        decrypt = ColumnDecrypter(self.session, self.customer.id, table.name)
        summary, details = decrypt.column("summary", TEXT), decrypt.column("details", TEXT)
        result = self.session.execute(
            sa.select(c.id, c.occurred_at, c.channel, c.kind, c.data_category, c.summary,
                      c.details, c.created_at)
            .where(c.customer_id == self.customer.id)
            .order_by(c.occurred_at, c.id),
            execution_options={"yield_per": _BATCH},
        )
        try:
            for row_id, occurred_at, channel, kind, category, summary_blob, details_blob, \
                    created_at in result:
                key = str(row_id)
                yield (key, occurred_at.isoformat(), channel, kind, category,
                       summary(key, summary_blob), details(key, details_blob),
                       created_at.isoformat())
        finally:
            result.close()

    def _event_rows(self) -> Iterator[dict[str, Any]]:
        """Consent events, oldest first, each with its signed receipt (few per customer)."""
        query = (sa.select(ConsentEvent).where(ConsentEvent.customer_id == self.customer.id)
                 .order_by(ConsentEvent.audit_entry_id))
        for event in self.session.scalars(query, execution_options={"yield_per": _BATCH}):
            yield {
                "id": str(event.id),
                "occurred_at": _iso(event.occurred_at),
                "purpose": event.purpose,
                "action": str(event.action),
                "status": str(event.status),
                "channel": str(event.channel),
                "policy_version": event.policy_version,
                "notice_hash": event.notice_hash,
                "language": event.language,
                "collected_at": _iso(event.collected_at),
                "gpc": bool(event.gpc),
                "note": event.note,
                "receipt": issue_receipt(event, signing_key=self.signing_key),
            }

    def _accesses(self) -> list[StaffAccess]:
        # Oldest first, like every other list in the export.
        return list(reversed(staff_accesses(self.customer.id)))

    def _request_rows(self) -> Iterator[dict[str, Any]]:
        """The customer's data-subject requests, oldest first, this one included."""
        # Straight from the register, not the paged queue (requests.services.list_requests):
        # all of them, in the order received.
        requests = self.session.scalars(
            sa.select(DataSubjectRequest)
            .where(DataSubjectRequest.customer_id == self.customer.id)
            .order_by(DataSubjectRequest.received_at, DataSubjectRequest.id))
        for request in requests:
            yield {
                "id": str(request.id),
                "type": str(request.type),
                "status": str(request.status),
                "channel": str(request.channel),
                "purpose": request.purpose,
                "received_at": _iso(request.received_at),
                "due_at": _iso(request.due_at),
                "extended_due_at": _iso(request.extended_due_at),
                "completed_at": _iso(request.completed_at),
                "outcome": request.outcome,
                "refusal_reason": str(request.refusal_reason) if request.refusal_reason else None,
                "explanation": request.explanation,
                "extension_reason": request.extension_reason,
                "notes": request.notes,
            }


# ---------------------------------------------------------------- records and files


def _iso(moment: dt.datetime | dt.date | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _json_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _customer_record(customer: Customer) -> dict[str, Any]:
    """The customer's fields, named as ``POST /api/v1/customers`` takes them, and the record's."""
    return {
        "id": str(customer.id),
        "status": str(customer.status),
        "created_at": _iso(customer.created_at),
        "updated_at": _iso(customer.updated_at),
        "email": customer.email,
        "name": customer.name,
        "phone": customer.phone,
        "postal_address": customer.postal_address,
        "date_of_birth": _iso(customer.date_of_birth),
        "preferences": customer.preferences or {},
    }


def _access_record(access: StaffAccess) -> dict[str, Any]:
    return {
        "occurred_at": _iso(access.occurred_at),
        "action": "revealed" if access.is_reveal else "viewed",
        "staff_name": access.staff_name,
        "staff_role": access.role_text,
        "fields": list(access.field_text),
        "reason_code": access.reason_code,
        "reason": access.reason_text,
    }


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        value = "; ".join(value)
    elif isinstance(value, (dict, list)):
        return _json_dumps(value)
    return spreadsheet_cell(str(value))


def _cells(columns: tuple[str, ...], rows: Iterable[dict[str, Any]]) -> Iterator[list[str]]:
    for row in rows:
        yield [_cell(row[name]) for name in columns]


_HISTORY_KEYS = tuple(name for name in HISTORY_COLUMNS if name != "details")


def _history_json(row: tuple[str | None, ...]) -> str:
    # ``details`` (index 6) is already JSON text: spliced in, not encoded twice.
    *fields, details, created_at = row
    text = _json_dumps(dict(zip(_HISTORY_KEYS, (*fields, created_at))))
    return f'{text[:-1]},"details":{details or "null"}}}'


def _history_cells(row: tuple[str | None, ...]) -> tuple[str | None, ...]:
    row_id, occurred_at, channel, kind, category, summary, details, created_at = row
    return (row_id, occurred_at, channel, kind, category, spreadsheet_cell(summary),
            spreadsheet_cell(details), created_at)


def _csv_rows(out: io.TextIOWrapper, columns: tuple[str, ...],
              rows: Iterable[Iterable[Any]]) -> Iterator[None]:
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180
    writer.writerow(columns)
    write = writer.writerow
    for row in rows:
        write(row)
        yield
    yield


# ---------------------------------------------------------------- README.txt

_BASIS_TEXT = {
    "consent": "your consent (GDPR Art. 6(1)(a)); you can withdraw it at any time",
    "contract": "our contract with you (GDPR Art. 6(1)(b))",
    "legal-obligation": "a legal obligation (GDPR Art. 6(1)(c))",
    "legitimate-interest": "our legitimate interest (GDPR Art. 6(1)(f)); you can object to it",
}

# Art. 15(1)(e)-(h) are prose in the policy: the sections are found by their headings.
_SECTIONS = {
    "rights": ("your rights",),
    "complaint": ("complain",),
    "source": ("comes from", "where your data", "sources"),
    "automated": ("automated",),
}
_FALLBACK = {
    "rights": "You have the right to have inaccurate data corrected (Art. 16), to have "
              "your data erased (Art. 17), to have its use restricted (Art. 18) and to "
              "object to its use (Art. 21). Use the privacy portal or write to us.",
    "complaint": "You have the right to complain to a data protection supervisory "
                 "authority (GDPR Art. 77).",
    "source": "Unless the privacy policy says otherwise, you gave us this data yourself "
              "or it was created when you used our services.",
    "automated": "The privacy policy in effect says nothing about automated decisions; "
                 "ask our data protection officer.",
}


def _wrap(text: str, indent: str = "") -> str:
    return textwrap.fill(" ".join(text.split()), width=_WIDTH, initial_indent=indent,
                         subsequent_indent=" " * len(indent), break_on_hyphens=False)


def _heading(title: str) -> str:
    return f"\n{title}\n{'-' * len(title)}\n\n"


def _plain_markdown(text: str) -> str:
    """A policy section as plain text: paragraphs re-wrapped, emphasis marks dropped."""
    blocks, current = [], []
    for line in text.replace("**", "").splitlines():
        line = line.rstrip().rstrip("\\").rstrip()
        if not line:
            if current:
                blocks.append(current)
            current = []
        elif line.startswith(("- ", "* ", "#")) and current:
            blocks.append(current)
            current = [line]
        else:
            current.append(line)
    if current:
        blocks.append(current)
    out: list[str] = []
    in_list = False
    for block in blocks:
        first = block[0]
        if first.startswith("#"):
            title = first.lstrip("#").strip()
            out.append(f"{title}\n{'~' * len(title)}")
            block = block[1:]
            in_list = False
            if not block:
                continue
            first = block[0]
        joined = " ".join(part.strip() for part in block)
        if first.startswith(("- ", "* ")):
            item = _wrap(joined[2:], "  - ")
            if in_list:  # one list, no blank lines between its items
                out[-1] += "\n" + item
            else:
                out.append(item)
            in_list = True
        else:
            out.append(_wrap(joined))
            in_list = False
    return "\n\n".join(out)


def _policy_sections(body: str) -> dict[str, str]:
    """The body's level-2 sections for Art. 15(1)(e)-(h), keyed like ``_SECTIONS``."""
    found: dict[str, str] = {}
    title, lines = None, []
    for line in [*body.splitlines(), "## "]:
        if line.startswith("## "):
            if title is not None:
                lowered = title.lower()
                for key, words in _SECTIONS.items():
                    if key not in found and any(word in lowered for word in words):
                        found[key] = "\n".join(lines).strip()
                        break
            title, lines = line[3:].strip(), []
        elif title is not None:
            lines.append(line)
    return found


def _readme_text(customer: Customer, document: PolicyDocument | None, generated_at: dt.datetime,
                 counts: dict[str, int], policy_url: str | None, site: str) -> str:
    controller = document.controller.name if document else "the controller"
    parts = [
        f"Your data held by {controller}\n",
        "=" * len(f"Your data held by {controller}") + "\n\n",
        _wrap(f"This archive is your copy of the personal data {controller} holds about you "
              "(GDPR Art. 15(3)), in a structured, machine-readable form that you may take to "
              "another company (Art. 20).") + "\n\n",
        f"Generated:      {_iso(generated_at)}\n",
        f"Customer id:    {customer.id}\n",
        f"Export format:  {EXPORT_FORMAT}, version {EXPORT_FORMAT_VERSION}\n",
    ]
    if document:
        parts.append(f"Privacy policy: version {document.version}, in effect since "
                     f"{document.effective_date.isoformat()}\n")
        if policy_url:
            parts.append(f"                {policy_url}\n")

    parts.append(_heading("What is in this archive"))
    files = [
        ("data.json", "all of it in one structured file (JSON; its format and version are "
                      "named at its start)"),
        ("history.csv", f"your history with us ({counts.get('history', 0)} entries)"),
        ("consent_events.csv", f"every consent choice ({counts.get('consent_events', 0)}), "
                               "each with its signed receipt"),
        ("access_log.csv", f"each time our staff looked at your record "
                           f"({counts.get('access_log', 0)})"),
        ("requests.csv", f"your requests about your data ({counts.get('requests', 0)})"),
        ("README.txt", "this summary"),
    ]
    parts.extend(_wrap(f"{name}: {what}", "  - ") + "\n" for name, what in files)
    parts.append("\n" + _wrap(
        "Consent receipts are signed (Kantara Consent Receipt v1.1, Ed25519 JWS); anyone can "
        f"check them with the public key we publish as a JSON Web Key Set on {site}. In the CSV "
        "files a text that starts with =, +, -, @ is written with a leading ' so that "
        "spreadsheets do not run it as a formula.") + "\n")

    parts.append(_heading("Your details"))
    preferences = customer.preferences or {}
    for label, value in (
        ("Name", customer.name), ("Email", customer.email), ("Phone", customer.phone),
        ("Postal address", (customer.postal_address or "").replace("\n", ", ") or None),
        ("Date of birth", _iso(customer.date_of_birth)),
        ("Language", preferences.get("language")),
        ("Contact channels", ", ".join(preferences.get("channels") or []) or None),
        ("Topics", ", ".join(preferences.get("topics") or []) or None),
        ("Record status", str(customer.status)),
    ):
        parts.append(f"  {label + ':':<18}{value if value else '(none)'}\n")

    if document is None:
        parts.append(_heading("About the processing"))
        parts.append(_wrap("No privacy policy was in effect when this copy was made. Ask "
                           f"{controller} for the purposes, recipients and retention periods "
                           "of the processing (GDPR Art. 15(1)).") + "\n")
        return "".join(parts)

    categories = {c.slug: c for c in document.data_categories}
    parts.append(_heading("Why we use your data (Art. 15(1)(a))"))
    for purpose in document.purposes:
        parts.append(_wrap(f"{purpose.title} — based on "
                           f"{_BASIS_TEXT.get(purpose.legal_basis, purpose.legal_basis)}.",
                           "  * ") + "\n")
        parts.append(_wrap(purpose.description, "    ") + "\n")
        if purpose.interest:
            parts.append(_wrap(f"Our interest: {purpose.interest}", "    ") + "\n")
        used = [categories[s].title if s in categories else s for s in purpose.data_categories]
        if used:
            parts.append(_wrap(f"Data used: {', '.join(used)}.", "    ") + "\n")
        parts.append("\n")

    parts.append(_heading("What kinds of data (Art. 15(1)(b))"))
    for category in document.data_categories:
        parts.append(_wrap(f"{category.title}: {category.description}", "  * ") + "\n")

    parts.append(_heading("Who receives it (Art. 15(1)(c), 15(2))"))
    recipients: dict[str, list[str]] = {}
    for purpose in document.purposes:
        for recipient in purpose.recipients:
            recipients.setdefault(recipient, []).append(purpose.title)
    for recipient, titles in recipients.items():
        parts.append(_wrap(f"{recipient} — for: {'; '.join(titles)}", "  * ") + "\n")
    if not recipients:
        parts.append("  No recipients are named in the policy.\n")
    transfers = {(t.recipient, t.country, t.safeguard)
                 for p in document.purposes for t in p.transfers}
    parts.append("\n" + _wrap("Transfers outside the European Economic Area and their "
                              "safeguards (Art. 46):") + "\n")
    for recipient, country, safeguard in sorted(transfers):
        parts.append(_wrap(f"{recipient}, {country}: {safeguard}", "  * ") + "\n")
    if not transfers:
        parts.append("  None.\n")

    parts.append(_heading("How long we keep it (Art. 15(1)(d))"))
    for category in document.data_categories:
        parts.append(_wrap(f"{category.title}: {category.retention}", "  * ") + "\n")

    sections = _policy_sections(document.body)
    for key, title in (
        ("rights", "Your rights (Art. 15(1)(e))"),
        ("complaint", "Your right to complain (Art. 15(1)(f))"),
        ("source", "Where your data comes from (Art. 15(1)(g))"),
        ("automated", "Automated decisions and profiling (Art. 15(1)(h))"),
    ):
        parts.append(_heading(title))
        text = sections.get(key)
        parts.append((_plain_markdown(text) if text else _wrap(_FALLBACK[key])) + "\n")

    parts.append(_heading("Who to contact"))
    address = ", ".join(line.strip() for line in document.controller.address.splitlines()
                        if line.strip())
    parts.append(_wrap(f"Controller: {document.controller.name}, {address}, "
                       f"{document.controller.email}", "  ") + "\n")
    parts.append(_wrap(f"Data protection officer: {document.dpo.name}, {document.dpo.email}",
                       "  ") + "\n")
    return "".join(parts)
