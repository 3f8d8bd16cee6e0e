"""The fast scan on PostgreSQL judges entries exactly as the reference encoder does.

``verify`` reads the chain as COPY rows (consentmgr/audit/scan.py), builds
each canonical encoding from their bytes and, for a long chain, reads the
two halves in two processes on one snapshot. These tests store entries with
the characters JSON and COPY escape, and tamper in either half and at the
seam, and expect the same verdicts, naming the same entry, as a scan with
the reference encoder.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa

from consentmgr.audit import scan
from consentmgr.audit.models import AuditEntry
from consentmgr.audit.services import verify_chain
from tests.conftest import postgresql_only

pytestmark = postgresql_only

ENTRIES = AuditEntry.__table__
# Quotes, backslashes, every control character, DEL, non-Latin, astral, line separators.
AWKWARD = 'q"b\\s/\\N' + "".join(map(chr, range(1, 32))) + "\x7f é ü ß 中文 😀 \u2028\u2029 <&>"


def insert_entry(tamper, **values):
    """An entry as raw SQL can write it (past the validation of ``record``)."""
    row = {"sequence": None, "occurred_at": dt.datetime.now(dt.UTC),
           "actor_type": "staff", "actor_id": "agent-1", "actor_role": None,
           "action": "customer.view", "outcome": "success", "subject_id": None, "fields": [],
           "reason_code": None, "justification": None, "request_id": None,
           "client_hash": None, "details": {}, "prev_hash": None, "hash": None, **values}
    tamper(sa.insert(ENTRIES).values(**row))


@pytest.fixture
def rechecks(monkeypatch):
    """The sequence numbers the scan handed to the reference encoder."""
    asked: list[int] = []
    original = scan._Snapshot.recheck
    monkeypatch.setattr(scan._Snapshot, "recheck",
                        lambda self, sequence: asked.append(sequence) or original(self, sequence))
    return asked


def test_verify_takes_the_fast_path_on_postgresql(db):
    assert scan.supported(db.session)


def test_entries_the_application_writes_need_no_recheck(db, record_entries, rechecks):
    record_entries(6)
    result = verify_chain()
    assert result.ok and result.checked == 6 and rechecks == []


def test_awkward_entries_verify_through_the_reference_encoder(db, tamper, sequenced, rechecks):
    insert_entry(tamper, actor_id=AWKWARD[:64], actor_role="agent", justification=AWKWARD,
                 reason_code="x\ny", request_id='r"1', client_hash="k:\\",
                 subject_id=uuid.uuid4(), fields=["phone", AWKWARD],
                 details={"z": AWKWARD, "a": 1, "é": True, "n": None, "f": 1.5},
                 occurred_at=dt.datetime(2026, 3, 1, 23, 59, 59, 5,
                                         tzinfo=dt.timezone(dt.timedelta(hours=-7))))
    insert_entry(tamper, details={"b": 2, "a": [1, {"y": "é\n", "x": None}]},
                 occurred_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    sequenced()
    result = verify_chain()
    assert result.ok and result.checked == 2
    assert rechecks == [1]  # entry 2's values need no escaping; its JSON is parsed, not copied


def test_a_changed_entry_is_named_after_the_reference_recheck(db, record_entries, tamper,
                                                              rechecks):
    record_entries(4)
    tamper("UPDATE audit_entries SET details = '{\"purpose\": \"x\"}' WHERE sequence = 2")
    result = verify_chain()
    assert rechecks == [2]
    assert result.first_bad_sequence == 2 and "was changed" in result.reason


@pytest.fixture
def two_halves(monkeypatch):
    """Every chain is read in two halves (the second by a second process)."""
    monkeypatch.setattr(scan, "PARALLEL_FROM", 1)


def test_two_halves_verify_an_intact_chain(db, record_entries, two_halves):
    record_entries(9)
    result = verify_chain()
    assert result.ok and result.checked == 9 and result.head_sequence == 9


@pytest.mark.parametrize("sequence", [2, 5, 6, 9])
def test_two_halves_name_a_changed_entry_in_either_half_and_at_the_seam(
        db, record_entries, tamper, two_halves, sequence):
    record_entries(9)  # halves: 1-4 and 5-9
    tamper(f"UPDATE audit_entries SET actor_id = 'someone-else' WHERE sequence = {sequence}")
    result = verify_chain()
    assert not result.ok and result.first_bad_sequence == sequence
    assert "was changed" in result.reason


@pytest.mark.parametrize("sequence, reason", [
    (4, "entry 4 is missing"), (5, "entry 5 is missing"), (7, "entry 7 is missing"),
])
def test_two_halves_name_a_deleted_entry_at_the_seam(db, record_entries, tamper, two_halves,
                                                    sequence, reason):
    record_entries(9)
    tamper(f"DELETE FROM audit_entries WHERE sequence = {sequence}")
    result = verify_chain()
    assert result.first_bad_sequence == sequence and reason in result.reason


def test_two_halves_name_the_first_of_two_changes(db, record_entries, tamper, two_halves):
    record_entries(9)
    tamper("UPDATE audit_entries SET actor_id = 'x' WHERE sequence IN (3, 8)")
    assert verify_chain().first_bad_sequence == 3

