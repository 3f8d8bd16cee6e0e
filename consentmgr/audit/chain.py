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

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from consentmgr.audit.models import GENESIS_HASH
from consentmgr.crypto.signing import canonical_json
from consentmgr.sql import as_utc

FORMAT_VERSION = 1

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
                f"; agrees with {count} signed checkpoint{'' if count == 1 else 's'}"
                if count else "; no signed checkpoint to compare with yet"
            )
            return (
                f"Audit trail intact: {self.checked} entries, head sequence {self.head_sequence}, "
                f"head hash {self.head_hash}{checkpoints}."
            )
        where = (
            f"first bad sequence {self.first_bad_sequence}"
            if self.first_bad_sequence is not None
            else "no single entry to blame"
        )
        return f"Audit trail NOT intact: {where}: {self.reason}"


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

    def _fail(self, sequence: int | None, reason: str) -> bool:
        if self.failure is None:
            self.failure = (sequence, reason)
        return False

    def feed(self, row: Mapping[str, Any]) -> bool:
        """Check the next entry; False (and stop feeding) once something is wrong."""
        if self.failure is not None:
            return False
        sequence = int(row["sequence"])
        expected = self.last_sequence + 1
        if sequence != expected:
            if sequence > expected:
                missing = f"entry {expected} is" if sequence == expected + 1 else (
                    f"entries {expected} to {sequence - 1} are")
                return self._fail(expected, f"{missing} missing (deleted or never written)")
            return self._fail(sequence, f"entry {sequence} appears out of order")
        if entry_hash(row) != row["hash"]:
            return self._fail(
                sequence, f"entry {sequence} was changed: its content does not match its hash"
            )
        if row["prev_hash"] != self.last_hash:
            return self._fail(
                sequence,
                f"entry {sequence} does not follow entry {sequence - 1}: its previous hash differs "
                "(entries were inserted, removed or reordered)",
            )
        self.checked += 1
        self.last_sequence = sequence
        self.last_hash = row["hash"]
        if sequence in self._remember:
            self.hashes[sequence] = row["hash"]
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
