"""The hash chain: canonical encoding of an entry, its hash, and verification.

Pure functions over plain mappings (a database row, a dict), so that the
same code hashes an entry when it is written and when it is read back, and
tests can forge entries exactly as an attacker would.

The canonical encoding is JSON with sorted keys and no whitespace, UTF-8,
of every column except ``hash`` plus a format version ``v``. Values are
normalised so that the encoding survives the database round trip: times as
ISO 8601 UTC with microseconds (a naive time, as a raw SQLite row or a
forged entry holds, is UTC), the subject as a lower-case UUID string,
absent ``fields``/``details`` as empty.
"""

from __future__ import annotations

import binascii
import datetime as dt
import hashlib
import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from consentmgr.audit.models import GENESIS_HASH
from consentmgr.crypto.signing import canonical_json
from consentmgr.i18n import gettext, ngettext
from consentmgr.sql import as_utc

FORMAT_VERSION = 1
_VERSION_SUFFIX = f',"v":{FORMAT_VERSION}}}'.encode()

#: The columns covered by an entry's hash, in the order they are documented.
HASHED_COLUMNS = (
    "sequence", "occurred_at", "actor_type", "actor_id", "actor_role", "action", "outcome",
    "subject_id", "fields", "reason_code", "justification", "request_id", "client_hash",
    "details", "prev_hash",
)


def canonical_time(value: dt.datetime) -> str:
    """``value`` as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC (naive means UTC)."""
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _uuid_text(value: Any) -> str | None:
    if value is None:
        return None
    return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))


def canonical_entry(values: Mapping[str, Any]) -> bytes:
    """The bytes an entry's hash is computed over (see the module docstring)."""
    document = {
        "v": FORMAT_VERSION,
        "sequence": int(values["sequence"]),
        "occurred_at": canonical_time(values["occurred_at"]),
        "actor_type": values["actor_type"],
        "actor_id": values["actor_id"],
        "actor_role": values["actor_role"],
        "action": values["action"],
        "outcome": values["outcome"],
        "subject_id": _uuid_text(values["subject_id"]),
        "fields": list(values["fields"] or []),
        "reason_code": values["reason_code"],
        "justification": values["justification"],
        "request_id": values["request_id"],
        "client_hash": values["client_hash"],
        "details": dict(values["details"] or {}),
        "prev_hash": values["prev_hash"],
    }
    return canonical_json(document)


def entry_hash(values: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of :func:`canonical_entry`; includes ``prev_hash``, which links the chain."""
    return hashlib.sha256(canonical_entry(values)).hexdigest()


#: COPY's text format escapes these (PostgreSQL's CopyAttributeOutText).
_COPY_ESCAPES = {b"\\": b"\\", b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r",
                 b"t": b"\t", b"v": b"\v"}
_COPY_ESCAPE = re.compile(rb"\\(.)", re.DOTALL)
_COPY_NULL = b"\\N"


def copy_unescape(field: bytes) -> bytes:
    """A field of a ``COPY ... TO STDOUT`` text-format row as the value it stands for."""
    return _COPY_ESCAPE.sub(lambda m: _COPY_ESCAPES.get(m.group(1), m.group(1)), field)


class _CopyJSON:
    """Canonical bytes of a stored ``details``/``fields`` value, by its COPY text.

    Entries written by one code path repeat a handful of ``details`` (the
    same purpose, status and channel), so the parse and canonical dump run
    once per distinct text, not once per entry. Bounded: cleared when full.
    """

    LIMIT = 50_000

    def __init__(self, kind: type) -> None:
        self.kind = kind
        self._known: dict[bytes, bytes] = {}

    @property
    def known(self) -> Callable[[bytes], bytes | None]:
        """The canonical bytes if this text was seen (``dict.get``: the per-entry call)."""
        return self._known.get

    def __call__(self, field: bytes) -> bytes:
        """The canonical bytes for ``field`` (parsed now if new)."""
        found = self._known.get(field)
        if found is None:
            if len(self._known) >= self.LIMIT:
                self._known.clear()
            # As canonical_entry: absent (NULL or JSON null) is empty.
            value = None if field == _COPY_NULL else json.loads(copy_unescape(field))
            found = self._known[field] = canonical_json(self.kind(value or self.kind()))
        return found


_DETAILS_JSON = _CopyJSON(dict)
_FIELDS_JSON = _CopyJSON(list)

#: Bytes a value must not hold to be written into JSON as it is: a quote or a
#: control character (COPY writes a backslash escape for \n, \r, \t, \b, \f, \v).
_NEEDS_ESCAPING = bytes(range(0x09)) + bytes(range(0x0a, 0x20)) + b'"'

#: The columns of a COPY row fed to :meth:`ChainVerifier.feed_copy_rows`, in order.
COPY_COLUMNS = (
    "sequence", "hash", "prev_hash", "occurred_at", "subject_id", "action", "actor_id",
    "actor_role", "actor_type", "client_hash", "justification", "outcome", "reason_code",
    "request_id", "details", "fields",
)


@dataclass(frozen=True)
class VerifyResult:
    """What :func:`consentmgr.audit.verify.verify_chain` found.

    ``ok`` is True when every entry is intact, linked and numbered without
    gaps, agrees with the chain head and with every checkpoint checked.
    Otherwise ``first_bad_sequence`` names the first entry that is wrong or
    missing (``None`` when no single entry can be blamed, e.g. a checkpoint
    with a bad signature) and ``reason`` says what was found.
    ``head_sequence``/``head_hash`` describe the last entry read intact.
    """

    ok: bool
    checked: int
    first_bad_sequence: int | None = None
    reason: str | None = None
    head_sequence: int = 0
    head_hash: str = GENESIS_HASH
    checkpoints_checked: int = 0

    def summary(self) -> str:
        """One line for people: what was checked and, if broken, where."""
        if self.ok:
            count = self.checkpoints_checked
            checkpoints = (
                ngettext("agrees with %(num)d signed checkpoint",
                         "agrees with %(num)d signed checkpoints", count)
                if count else gettext("no signed checkpoint to compare with yet")
            )
            return gettext("Audit trail intact: %(checked)s entries, head sequence %(sequence)s, "
                           "head hash %(hash)s; %(checkpoints)s.", checked=self.checked,
                           sequence=self.head_sequence, hash=self.head_hash,
                           checkpoints=checkpoints)
        where = (
            gettext("first bad sequence %(sequence)s", sequence=self.first_bad_sequence)
            if self.first_bad_sequence is not None
            else gettext("no single entry to blame")
        )
        return gettext("Audit trail NOT intact: %(where)s: %(reason)s", where=where,
                       reason=self.reason)


class ChainVerifier:
    """Checks entries fed in sequence order; stops at the first problem.

    ``remember`` lists sequence numbers whose hashes checkpoints will be
    compared with once the scan is over.
    """

    def __init__(self, remember: Iterable[int] = ()) -> None:
        self._remember = set(remember)
        self.hashes: dict[int, str] = {}
        self.checked = 0
        self.last_sequence = 0
        self.last_hash = GENESIS_HASH
        self.checkpoints_checked = 0
        self.failure: tuple[int | None, str] | None = None
        self.changed: int | None = None  # the entry whose content failed, if that was the failure

    @property
    def remembered(self) -> frozenset[int]:
        """The sequence numbers whose hashes are kept for checkpoints."""
        return frozenset(self._remember)

    def _fail(self, sequence: int | None, reason: str) -> bool:
        if self.failure is None:
            self.failure = (sequence, reason)
        return False

    def feed(self, row: Mapping[str, Any]) -> bool:
        """Check the next entry; False (and stop feeding) once something is wrong."""
        return self._check(row["sequence"], row["prev_hash"], row["hash"],
                           lambda: entry_hash(row) == row["hash"])

    def feed_copy_rows(self, rows: Iterable[bytes], recheck: Callable[[int], bool]) -> bool:
        """Check entries given as COPY text rows; False once something is wrong.

        The fast path of a long chain (see :mod:`consentmgr.audit.scan`).
        Each row holds :data:`COPY_COLUMNS`, tab-separated, in PostgreSQL's
        text format, with ``occurred_at`` already written as
        :func:`canonical_time` writes it and ``subject_id`` as text. A row
        whose values need no JSON escaping (no quote, backslash or control
        character: every entry the application writes) is encoded here by
        joining bytes, which gives exactly :func:`canonical_entry`. Any
        other row, and any row that does not hash to its stored hash, is
        ``recheck``-ed (by sequence) with :func:`entry_hash` over the row
        as the database returns it before it is declared changed: this
        encoder only ever saves time, never decides.
        """
        if self.failure is not None:
            return False
        sha256, needs_escaping, null = hashlib.sha256, _NEEDS_ESCAPING, _COPY_NULL
        details_json, fields_json = _DETAILS_JSON, _FIELDS_JSON
        details_known, fields_known = details_json.known, fields_json.known
        unhex = binascii.unhexlify
        remember, hashes = self._remember, self.hashes
        last_sequence, checked = self.last_sequence, self.checked
        last_hash = self.last_hash.encode()
        for row in rows:
            try:
                (sequence, stored, prev_hash, occurred_at, subject_id, action, actor_id,
                 actor_role, actor_type, client_hash, justification, outcome, reason_code,
                 request_id, details, fields) = row.split(b"\t")
                # The values before the JSON, each followed by its tab.
                values = row[:len(row) - len(details) - len(fields) - 1]
                if (len(values.translate(None, needs_escaping)) != len(values)
                        # a backslash other than COPY's NULL marker: an escape
                        or values.count(b"\\") != values.count(b"\\N\t")):
                    intact = None  # let the reference encoder judge it
                else:
                    document = b"".join((
                        b'{"action":"', action,
                        b'","actor_id":"', actor_id,
                        b'","actor_role":', b"null" if actor_role == null else b'"' + actor_role + b'"',
                        b',"actor_type":"', actor_type,
                        b'","client_hash":', b"null" if client_hash == null else b'"' + client_hash + b'"',
                        b',"details":', details_known(details) or details_json(details),
                        b',"fields":', fields_known(fields) or fields_json(fields),
                        b',"justification":', (b"null" if justification == null
                                               else b'"' + justification + b'"'),
                        b',"occurred_at":"', occurred_at,
                        b'","outcome":"', outcome,
                        b'","prev_hash":', b"null" if prev_hash == null else b'"' + prev_hash + b'"',
                        b',"reason_code":', b"null" if reason_code == null else b'"' + reason_code + b'"',
                        b',"request_id":', b"null" if request_id == null else b'"' + request_id + b'"',
                        b',"sequence":', sequence,
                        b',"subject_id":', b"null" if subject_id == null else b'"' + subject_id + b'"',
                        _VERSION_SUFFIX,
                    ))
                    intact = sha256(document).digest() == unhex(stored)
                number = int(sequence)
            except (TypeError, ValueError):  # not a row the application wrote
                intact, number = None, None
            if intact and number == last_sequence + 1 and prev_hash == last_hash:
                last_sequence, last_hash = number, stored
                checked += 1
                if number in remember:
                    hashes[number] = stored.decode()
                continue
            # Something is off: the general check names it, in its order.
            self.last_sequence, self.last_hash, self.checked = (
                last_sequence, last_hash.decode(), checked)
            fields_ = row.split(b"\t")
            if number is None:
                number = int(copy_unescape(fields_[0]))
            text = [None if f == null else copy_unescape(f).decode() for f in fields_[1:3]]
            if not self._check(number, text[1], text[0],
                               lambda n=number, i=intact: i or recheck(n)):
                return False
            last_sequence, checked = self.last_sequence, self.checked
            last_hash = self.last_hash.encode()
        self.last_sequence, self.last_hash, self.checked = last_sequence, last_hash.decode(), checked
        return True

    def _check(self, sequence: Any, prev_hash: str | None, stored: str | None,
               intact: Callable[[], bool]) -> bool:
        if self.failure is not None:
            return False
        sequence = int(sequence)
        expected = self.last_sequence + 1
        if sequence != expected:
            if sequence > expected:
                missing = f"entry {expected} is" if sequence == expected + 1 else (
                    f"entries {expected} to {sequence - 1} are")
                return self._fail(expected, f"{missing} missing (deleted or never written)")
            return self._fail(sequence, f"entry {sequence} appears out of order")
        if not intact():
            self.changed = sequence
            return self._fail(
                sequence, f"entry {sequence} was changed: its content does not match its hash"
            )
        if prev_hash != self.last_hash:
            return self._fail(
                sequence,
                f"entry {sequence} does not follow entry {sequence - 1}: its previous hash differs "
                "(entries were inserted, removed or reordered)",
            )
        self.checked += 1
        self.last_sequence = sequence
        self.last_hash = stored
        if sequence in self._remember:
            self.hashes[sequence] = stored
        return True

    def check_head(self, head: tuple[int, str] | None) -> bool:
        """Compare the scanned chain with the recorded head (``None``: no head row)."""
        if self.failure is not None:
            return False
        last = self.last_sequence
        if head is None:
            if last == 0:
                return True
            return self._fail(None, "the chain head record is missing")
        head_sequence, head_hash = head
        if head_sequence > last:
            return self._fail(
                last + 1,
                f"entries {last + 1} to {head_sequence} are missing: the chain ends at {last} "
                f"but its head records entry {head_sequence}",
            )
        if head_sequence < last:
            return self._fail(
                head_sequence + 1,
                f"entry {head_sequence + 1} was added outside the application: the chain head "
                f"records entry {head_sequence} as the last",
            )
        if head_hash != self.last_hash:
            return self._fail(last, f"entry {last} does not match the hash recorded as the chain head")
        return True

    def check_checkpoint(self, sequence: int, head_hash: str, label: str) -> bool:
        """Compare the scanned chain with a checkpoint (``label`` names it in the reason)."""
        if self.failure is not None:
            return False
        last = self.last_sequence
        if sequence > last:
            return self._fail(
                last + 1,
                f"entries {last + 1} to {sequence} were removed: {label} covers entry {sequence} "
                f"but the chain ends at {last}",
            )
        known = GENESIS_HASH if sequence == 0 else self.hashes.get(sequence)
        if known != head_hash:
            return self._fail(
                sequence,
                f"entry {sequence} differs from {label}: the chain up to it was rewritten",
            )
        self.checkpoints_checked += 1
        return True

    def fail(self, reason: str, sequence: int | None = None) -> None:
        """Record a failure found outside the chain (e.g. a bad checkpoint signature)."""
        self._fail(sequence, reason)

    def result(self) -> VerifyResult:
        """The outcome so far."""
        sequence, reason = self.failure if self.failure else (None, None)
        return VerifyResult(
            ok=self.failure is None,
            checked=self.checked,
            first_bad_sequence=sequence,
            reason=reason,
            head_sequence=self.last_sequence,
            head_hash=self.last_hash,
            checkpoints_checked=self.checkpoints_checked,
        )
