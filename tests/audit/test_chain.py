"""The hash chain: canonical encoding survives the database round trip; every column counts."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest

from consentmgr.audit.chain import (
    COPY_COLUMNS,
    HASHED_COLUMNS,
    ChainVerifier,
    canonical_entry,
    canonical_time,
    entry_hash,
)
from consentmgr.audit.models import GENESIS_HASH

UTC = dt.timezone.utc
SUBJECT = uuid.UUID("0f8fad5b-d9cb-469f-a165-70867728950e")


def entry(**overrides):
    values = {
        "sequence": 1,
        "occurred_at": dt.datetime(2026, 3, 1, 9, 30, 5, 123456, tzinfo=UTC),
        "actor_type": "staff",
        "actor_id": "agent-1",
        "actor_role": "agent",
        "action": "customer.reveal",
        "outcome": "success",
        "subject_id": SUBJECT,
        "fields": ["phone"],
        "reason_code": "support-ticket",
        "justification": "Ticket 4711",
        "request_id": "req-1",
        "client_hash": "idx1:" + "ab" * 32,
        "details": {"ticket": "4711"},
        "prev_hash": GENESIS_HASH,
    }
    values.update(overrides)
    values.setdefault("hash", entry_hash(values))
    return values


def chain(length):
    rows, prev = [], GENESIS_HASH
    for sequence in range(1, length + 1):
        row = entry(sequence=sequence, prev_hash=prev)
        rows.append(row)
        prev = row["hash"]
    return rows


def test_naive_time_from_sqlite_encodes_like_the_aware_utc_time_written():
    aware = dt.datetime(2026, 3, 1, 9, 30, 5, 123456, tzinfo=UTC)
    assert canonical_time(aware.replace(tzinfo=None)) == canonical_time(aware) == "2026-03-01T09:30:05.123456Z"


def test_time_in_another_zone_from_postgresql_encodes_as_the_same_utc_instant():
    berlin = dt.timezone(dt.timedelta(hours=1))
    aware = dt.datetime(2026, 3, 1, 10, 30, 5, 123456, tzinfo=berlin)
    assert canonical_time(aware) == "2026-03-01T09:30:05.123456Z"


def test_subject_as_text_hashes_like_the_uuid():
    assert entry_hash(entry(subject_id=str(SUBJECT).upper())) == entry_hash(entry())


def test_encoding_is_compact_sorted_json():
    encoded = canonical_entry(entry())
    assert encoded.startswith(b'{"action":"customer.reveal","actor_id":"agent-1"')
    assert b", " not in encoded and b": " not in encoded


@pytest.mark.parametrize(
    "column, value",
    [
        ("sequence", 2),
        ("occurred_at", dt.datetime(2026, 3, 1, 9, 30, 5, 123457, tzinfo=UTC)),
        ("actor_type", "system"),
        ("actor_id", "agent-2"),
        ("actor_role", "dpo"),
        ("action", "customer.view"),
        ("outcome", "denied"),
        ("subject_id", uuid.UUID(int=1)),
        ("fields", ["phone", "email"]),
        ("reason_code", "legal-obligation"),
        ("justification", "Ticket 4712"),
        ("request_id", "req-2"),
        ("client_hash", "idx1:" + "cd" * 32),
        ("details", {"ticket": "4712"}),
        ("prev_hash", "1" * 64),
    ],
)
def test_changing_any_column_changes_the_hash(column, value):
    assert entry_hash(entry(**{column: value})) != entry_hash(entry())


def test_every_hashed_column_is_covered_by_the_parametrised_test_above():
    assert len(HASHED_COLUMNS) == 15 and set(HASHED_COLUMNS) == set(entry()) - {"hash"}


def test_intact_chain_verifies():
    verifier = ChainVerifier()
    assert all(verifier.feed(row) for row in chain(5))
    assert verifier.check_head((5, chain(5)[-1]["hash"]))
    result = verifier.result()
    assert (result.ok, result.checked, result.head_sequence) == (True, 5, 5)


def test_verifier_stops_at_the_first_bad_entry():
    rows = chain(5)
    rows[1] = {**rows[1], "actor_id": "someone-else"}
    rows[3] = {**rows[3], "actor_id": "someone-else"}
    verifier = ChainVerifier()
    fed = [verifier.feed(row) for row in rows]
    assert fed == [True, False, False, False, False]
    assert verifier.result().first_bad_sequence == 2 and verifier.result().checked == 1


def test_checkpoint_beyond_the_end_of_the_chain_names_the_first_missing_entry():
    verifier = ChainVerifier(remember=[3])
    for row in chain(3):
        verifier.feed(row)
    assert not verifier.check_checkpoint(6, "f" * 64, "the given checkpoint")
    result = verifier.result()
    assert result.first_bad_sequence == 4 and "entries 4 to 6 were removed" in result.reason


def test_summary_names_the_first_bad_sequence():
    verifier = ChainVerifier()
    rows = chain(3)
    verifier.feed(rows[0])
    verifier.feed(rows[2])
    assert verifier.result().summary() == (
        "Audit trail NOT intact: first bad sequence 2: entry 2 is missing (deleted or never written)"
    )


# ---------------------------------------------- the COPY rows (fast) path

_COPY_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b",
                 "\f": "\\f", "\v": "\\v"}


def copy_text(value) -> bytes:
    """One field as PostgreSQL's COPY text format writes it."""
    if value is None:
        return b"\\N"
    return "".join(_COPY_ESCAPES.get(c, c) for c in str(value)).encode()


def copy_row(row, *, details_text=None) -> bytes:
    """``row`` as the PostgreSQL scan delivers it (see consentmgr/audit/scan.py)."""
    values = {**row, "occurred_at": canonical_time(row["occurred_at"]),
              "details": details_text if details_text is not None else json.dumps(row["details"]),
              "fields": json.dumps(row["fields"])}
    return b"\t".join(copy_text(values[name]) for name in COPY_COLUMNS)


def never_rechecked(sequence):
    raise AssertionError(f"entry {sequence} was rechecked")


def test_copy_rows_verify_like_rows():
    verifier = ChainVerifier(remember=[2])
    assert verifier.feed_copy_rows([copy_row(row) for row in chain(5)], never_rechecked)
    assert verifier.check_head((5, chain(5)[-1]["hash"]))
    result = verifier.result()
    assert (result.ok, result.checked, result.head_sequence) == (True, 5, 5)
    assert verifier.hashes == {2: chain(5)[1]["hash"]}


def test_nulls_encode_as_json_null_without_a_recheck():
    row = entry(actor_role=None, subject_id=None, reason_code=None, justification=None,
                request_id=None, client_hash=None, details={}, fields=[])
    assert ChainVerifier().feed_copy_rows([copy_row(row)], never_rechecked)


def test_stored_json_in_any_spacing_key_order_and_escaping_hashes_canonically():
    row = entry(details={"b": "é", "a": 1})
    verifier = ChainVerifier()
    assert verifier.feed_copy_rows([copy_row(row, details_text='{ "b" : "\\u00e9", "a":1 }')],
                                   never_rechecked)


@pytest.mark.parametrize("value", ['say "hi"', "line\nbreak", "tab\there", "back\\slash",
                                   "\\N", "bell\x07"])
def test_values_that_need_escaping_are_judged_by_the_reference_encoder(value):
    row = entry(justification=value)
    asked = []
    verifier = ChainVerifier()
    assert verifier.feed_copy_rows([copy_row(row)], lambda s: asked.append(s) or True)
    assert asked == [1]


def test_a_literal_backslash_n_is_not_taken_for_null():
    # An attacker turning NULL into the text \N must not hash like the NULL it replaced.
    original = entry(justification=None)
    forged = {**original, "justification": "\\N"}
    verifier = ChainVerifier()
    assert not verifier.feed_copy_rows([copy_row(forged)], lambda s: False)
    assert verifier.result().first_bad_sequence == 1


def test_copy_row_that_does_not_hash_is_named_once_the_reference_agrees():
    rows = [copy_row(row) for row in chain(4)]
    rows[2] = rows[2].replace(b"agent-1", b"agent-2")
    asked = []
    verifier = ChainVerifier()
    assert not verifier.feed_copy_rows(rows, lambda s: asked.append(s) or False)
    result = verifier.result()
    assert asked == [3] and result.first_bad_sequence == 3 and "was changed" in result.reason
    assert result.checked == 2


def test_encoder_disagreement_defers_to_the_reference_encoder():
    rows = [copy_row(row) for row in chain(3)]
    rows[1] = rows[1].replace(b"agent-1", b"agent-x")
    verifier = ChainVerifier()
    assert verifier.feed_copy_rows(rows, lambda s: True)
    assert verifier.result().ok and verifier.result().checked == 3


@pytest.mark.parametrize("drop, reason", [(1, "entry 2 is missing"), (0, "entry 1 is missing")])
def test_copy_rows_gap_names_the_missing_entry(drop, reason):
    rows = [copy_row(row) for row in chain(4)]
    del rows[drop]
    verifier = ChainVerifier()
    assert not verifier.feed_copy_rows(rows, never_rechecked)
    assert reason in verifier.result().reason
    assert verifier.result().first_bad_sequence == drop + 1


def test_copy_row_with_a_recomputed_hash_breaks_the_next_link():
    rows = chain(4)
    forged = entry(sequence=2, prev_hash=rows[0]["hash"], actor_id="mallory")
    feed = [copy_row(rows[0]), copy_row(forged), copy_row(rows[2]), copy_row(rows[3])]
    verifier = ChainVerifier()
    assert not verifier.feed_copy_rows(feed, lambda s: False)
    result = verifier.result()
    assert result.first_bad_sequence == 3 and "does not follow entry 2" in result.reason
