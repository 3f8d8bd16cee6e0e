"""Tampering with the stored trail is detected, naming the first bad sequence number.

Each test changes rows with raw SQL, as someone with database access could
(on PostgreSQL after switching the append-only triggers off), then checks
what ``verify_chain`` reports.
"""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
import sqlalchemy as sa

from consentmgr.actors import Actor
from consentmgr.audit.chain import entry_hash
from consentmgr.audit.checkpoints import SignedCheckpoint
from consentmgr.audit.models import AuditEntry
from consentmgr.audit.services import create_checkpoint, record, verify_chain
from consentmgr.crypto.signing import load_private_key
from tests.audit.helpers import AGENT
from tests.conftest import postgresql_only
from tests.fixtures.audit import sequence_audit

OPERATOR = Actor("system", "cli:audit checkpoint")
ENTRIES = AuditEntry.__table__


def rows(db) -> list[dict]:
    """The stored entries in chain order, without the insertion id (a forger's insert gets its own)."""
    columns = [c for c in ENTRIES.c if c.name != "id"]
    return [dict(r._mapping) for r in db.session.execute(
        sa.select(*columns).order_by(ENTRIES.c.sequence))]


def forged(previous: dict, sequence: int, **changes) -> dict:
    """An entry an attacker who knows the algorithm computes to follow ``previous``."""
    values = {**previous, "sequence": sequence, "prev_hash": previous["hash"],
              "actor_id": "nobody", "subject_id": uuid.uuid4(), **changes}
    values["hash"] = entry_hash(values)
    return values


def test_untouched_trail_verifies(db, record_entries):
    record_entries(6)
    assert verify_chain().ok


def test_modified_entry_is_named(db, record_entries, tamper):
    record_entries(6)
    tamper("UPDATE audit_entries SET actor_id = 'someone-else' WHERE sequence = 3")
    result = verify_chain()
    assert not result.ok and result.first_bad_sequence == 3
    assert "was changed" in result.reason


def test_modified_entry_with_recomputed_hash_breaks_the_next_link(db, record_entries, tamper):
    record_entries(6)
    row = rows(db)[2]
    changed = {**row, "fields": ["email", "phone"]}
    tamper(sa.update(ENTRIES).where(ENTRIES.c.sequence == 3).values(
        fields=changed["fields"], hash=entry_hash(changed)))
    result = verify_chain()
    assert result.first_bad_sequence == 4 and "does not follow entry 3" in result.reason


def test_deleted_entry_is_named(db, record_entries, tamper):
    record_entries(6)
    tamper("DELETE FROM audit_entries WHERE sequence = 3")
    result = verify_chain()
    assert not result.ok and result.first_bad_sequence == 3
    assert "entry 3 is missing" in result.reason


def test_deleted_first_entry_is_named(db, record_entries, tamper):
    record_entries(3)
    tamper("DELETE FROM audit_entries WHERE sequence = 1")
    assert verify_chain().first_bad_sequence == 1


def _shift_up_from(sequence: int) -> list[str]:
    # Two steps, so the primary key never sees two rows with one number.
    return [
        f"UPDATE audit_entries SET sequence = -sequence WHERE sequence >= {sequence}",
        "UPDATE audit_entries SET sequence = 1 - sequence WHERE sequence < 0",
    ]


def test_inserted_entry_is_named(db, record_entries, tamper):
    record_entries(6)
    crude = {**rows(db)[2], "sequence": 3, "actor_id": "nobody", "hash": "f" * 64}
    tamper(*_shift_up_from(3), sa.insert(ENTRIES).values(crude))
    result = verify_chain()
    assert not result.ok and result.first_bad_sequence == 3


def test_inserted_entry_forged_to_link_is_caught_at_the_entry_it_displaced(db, record_entries, tamper):
    record_entries(6)
    entry = forged(rows(db)[1], 3)
    tamper(*_shift_up_from(3), sa.insert(ENTRIES).values(entry))
    result = verify_chain()
    # Entry 3 is a perfect forgery; the genuine entry pushed to 4 no longer fits.
    assert not result.ok and result.first_bad_sequence == 4


def test_entry_appended_outside_the_application_is_named(db, record_entries, tamper):
    record_entries(6)
    tamper(sa.insert(ENTRIES).values(forged(rows(db)[-1], 7)))
    result = verify_chain()
    assert not result.ok and result.first_bad_sequence == 7
    assert "added outside the application" in result.reason


def test_reordered_entries_are_named(db, record_entries, tamper):
    record_entries(6)
    tamper(
        "UPDATE audit_entries SET sequence = -1 WHERE sequence = 3",
        "UPDATE audit_entries SET sequence = 3 WHERE sequence = 4",
        "UPDATE audit_entries SET sequence = 4 WHERE sequence = -1",
    )
    result = verify_chain()
    assert not result.ok and result.first_bad_sequence == 3


def test_removed_tail_is_named_through_the_chain_head(db, record_entries, tamper):
    record_entries(6)
    tamper("DELETE FROM audit_entries WHERE sequence >= 5")
    result = verify_chain()
    assert not result.ok and result.first_bad_sequence == 5
    assert "entries 5 to 6 are missing" in result.reason


def _cut_after(db, tamper, keep: int, *, drop_stored_checkpoints: bool) -> None:
    """Remove entries after ``keep`` and make the head agree, as a careful attacker would."""
    last = rows(db)[keep - 1]
    statements = [
        f"DELETE FROM audit_entries WHERE sequence > {keep}",
        sa.text("UPDATE audit_head SET sequence = :sequence, hash = :hash").bindparams(
            sequence=keep, hash=last["hash"]),
    ]
    if drop_stored_checkpoints:
        statements.append("DELETE FROM audit_checkpoints")
    tamper(*statements)


def test_truncation_after_an_offbox_checkpoint_names_the_first_removed_entry(db, record_entries, tamper):
    record_entries(5)
    checkpoint = create_checkpoint(actor=OPERATOR)  # entry 6
    db.session.commit()
    record_entries(2)
    _cut_after(db, tamper, 3, drop_stored_checkpoints=True)
    assert verify_chain().ok  # the chain alone cannot tell: that is what checkpoints are for
    result = verify_chain(checkpoint=checkpoint)
    assert not result.ok and result.first_bad_sequence == 4
    assert "entries 4 to 6 were removed" in result.reason


def test_truncation_below_a_stored_checkpoint_is_named_without_a_file(db, record_entries, tamper):
    record_entries(5)
    create_checkpoint(actor=OPERATOR)
    db.session.commit()
    _cut_after(db, tamper, 4, drop_stored_checkpoints=False)
    result = verify_chain()
    assert not result.ok and result.first_bad_sequence == 5


def test_rewritten_chain_is_caught_by_the_checkpoint(db, record_entries, tamper):
    record_entries(5)
    checkpoint = create_checkpoint(actor=OPERATOR)
    db.session.commit()
    # Change entry 2 and recompute every later hash, head included.
    chain = rows(db)
    chain[1]["actor_id"] = "someone-else"
    for index in range(1, len(chain)):
        chain[index]["prev_hash"] = chain[index - 1]["hash"]
        chain[index]["hash"] = entry_hash(chain[index])
    tamper(
        "DELETE FROM audit_entries WHERE sequence >= 2",
        sa.insert(ENTRIES).values(chain[1:]),
        sa.text("UPDATE audit_head SET hash = :hash").bindparams(hash=chain[-1]["hash"]),
        "DELETE FROM audit_checkpoints",
    )
    result = verify_chain(checkpoint=checkpoint)
    assert not result.ok and result.first_bad_sequence == 6
    assert "differs from the given checkpoint" in result.reason


def test_checkpoint_with_an_edited_member_is_refused(db, record_entries):
    record_entries(3)
    checkpoint = create_checkpoint(actor=OPERATOR)
    db.session.commit()
    result = verify_chain(checkpoint=replace(checkpoint, sequence=2))
    assert not result.ok and "signature is invalid" in result.reason


def test_checkpoint_signed_by_another_key_is_refused(db, record_entries):
    entries = record_entries(3)
    impostor = load_private_key(bytes(32), source="test")
    checkpoint = SignedCheckpoint.sign(sequence=3, head_hash=entries[-1].hash,
                                       created_at=entries[-1].occurred_at, key=impostor)
    result = verify_chain(checkpoint=checkpoint)
    assert not result.ok and "not by the configured audit signing key" in result.reason


def test_tampered_stored_checkpoint_is_reported(db, record_entries, tamper):
    record_entries(3)
    create_checkpoint(actor=OPERATOR)
    db.session.commit()
    tamper("UPDATE audit_checkpoints SET head_hash = 'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff'")
    result = verify_chain()
    assert not result.ok and "checkpoint stored for entry 4" in result.reason


@postgresql_only
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_entries SET actor_id = 'someone-else' WHERE sequence = 1",
        "DELETE FROM audit_entries WHERE sequence = 1",
        "UPDATE audit_checkpoints SET key_id = 'other'",
        "DELETE FROM audit_checkpoints",
        "DELETE FROM audit_head",
    ],
)
def test_postgresql_refuses_to_change_or_remove_audit_rows(db, record_entries, statement):
    record_entries(2)
    create_checkpoint(actor=OPERATOR)
    db.session.commit()
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        with db.engine.begin() as conn:
            conn.execute(sa.text(statement))
    result = verify_chain()
    assert result.ok and result.checked == 3


@postgresql_only
def test_postgresql_still_accepts_appends_and_head_updates(db):
    record("customer.view", actor=AGENT)
    record("customer.view", actor=AGENT)
    assert sequence_audit(db) == 2  # the sequencer's one permitted update
    assert verify_chain().checked == 2
