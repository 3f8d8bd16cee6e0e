"""Signed checkpoints: the off-box document, its signature, and how they are made."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from consentmgr.actors import Actor
from consentmgr.audit import actions
from consentmgr.audit.checkpoints import CheckpointFormatError, SignedCheckpoint
from consentmgr.audit.models import AuditCheckpoint
from consentmgr.audit.services import (
    ChainBroken,
    create_checkpoint,
    list_checkpoints,
    load_checkpoint,
    verify_chain,
)
from consentmgr.crypto.signing import jws_verify, key_id, load_private_key, public_jwk

KEY = load_private_key(bytes(range(32)), source="test")
OTHER = load_private_key(bytes(32), source="test")
WHEN = dt.datetime(2026, 11, 23, 10, 15, 0, 123456, tzinfo=dt.timezone.utc)
OPERATOR = Actor("system", "cli:audit checkpoint")


def signed(**overrides) -> SignedCheckpoint:
    values = {"sequence": 42, "head_hash": "ab" * 32, "created_at": WHEN, "key": KEY, **overrides}
    return SignedCheckpoint.sign(**values)


def test_document_is_self_contained_and_reads_back_equal():
    checkpoint = signed()
    document = json.loads(checkpoint.to_json())
    assert document["sequence"] == 42 and document["head_hash"] == "ab" * 32
    assert document["created_at"] == "2026-11-23T10:15:00.123456Z"
    assert document["key_id"] == key_id(KEY) and document["public_key"] == public_jwk(KEY)
    assert SignedCheckpoint.from_json(checkpoint.to_json()) == checkpoint


def test_signature_is_a_standard_eddsa_jws_over_the_readable_members():
    checkpoint = signed()
    payload = jws_verify(checkpoint.jws, KEY.public_key()).json()
    assert payload == {k: v for k, v in json.loads(checkpoint.to_json()).items()
                       if k in {"type", "version", "sequence", "head_hash", "created_at"}}


def test_genuine_checkpoint_verifies():
    assert signed().verify(KEY.public_key()) is None


@pytest.mark.parametrize("member, value", [("sequence", 43), ("head_hash", "cd" * 32),
                                           ("created_at", "2026-11-24T10:15:00.123456Z")])
def test_edited_member_invalidates_the_signature(member, value):
    document = json.loads(signed().to_json())
    document[member] = value
    problem = SignedCheckpoint.from_json(json.dumps(document)).verify(KEY)
    assert problem and "signature is invalid" in problem


def test_checkpoint_claiming_the_trusted_key_id_but_signed_by_another_is_refused():
    forged = json.loads(signed(key=OTHER).to_json())
    forged["key_id"] = key_id(KEY)
    problem = SignedCheckpoint.from_json(json.dumps(forged)).verify(KEY)
    assert problem and "signature is invalid" in problem


def test_checkpoint_by_another_key_names_both_keys():
    problem = signed(key=OTHER).verify(KEY)
    assert key_id(OTHER) in problem and key_id(KEY) in problem


@pytest.mark.parametrize(
    "text, message",
    [
        ("not json", "not JSON"),
        ("[]", "not a checkpoint document"),
        ('{"type": "consentmgr-audit-checkpoint", "version": 9}', "unsupported checkpoint version"),
    ],
)
def test_unreadable_document_is_a_clear_format_error(text, message):
    with pytest.raises(CheckpointFormatError, match=message):
        SignedCheckpoint.from_json(text)


@pytest.mark.parametrize(
    "member, value, message",
    [("sequence", "42", "'sequence'"), ("head_hash", "XYZ", "'head_hash'"),
     ("created_at", "yesterday", "'created_at'"), ("jws", None, "'jws'")],
)
def test_malformed_member_is_named(member, value, message):
    document = json.loads(signed().to_json())
    document[member] = value
    with pytest.raises(CheckpointFormatError, match=message):
        SignedCheckpoint.from_json(json.dumps(document))


def test_checkpoint_rebuilt_from_its_jws_alone_equals_the_original():
    checkpoint = signed()
    assert SignedCheckpoint.from_jws(checkpoint.jws) == checkpoint


def test_create_checkpoint_covers_its_own_audit_entry(app, db, record_entries):
    record_entries(3)
    checkpoint = create_checkpoint(actor=OPERATOR)
    db.session.commit()
    assert checkpoint.sequence == 4
    assert checkpoint.verify(app.extensions["consentmgr"].settings.audit_signing_key) is None
    result = verify_chain(checkpoint=checkpoint)
    assert result.ok and (result.head_sequence, result.head_hash) == (4, checkpoint.head_hash)
    entry = db.session.execute(sa.text("SELECT action, actor_id FROM audit_entries WHERE sequence = 4")).one()
    assert tuple(entry) == (actions.AUDIT_CHECKPOINT, "cli:audit checkpoint")


def test_create_checkpoint_stores_it_in_the_database(db, record_entries):
    record_entries(1)
    checkpoint = create_checkpoint(actor=OPERATOR)
    db.session.commit()
    stored = db.session.get(AuditCheckpoint, checkpoint.sequence)
    assert (stored.head_hash, stored.key_id, stored.jws) == (checkpoint.head_hash, checkpoint.key_id,
                                                              checkpoint.jws)
    assert list_checkpoints() == [checkpoint]


def test_checkpoint_of_an_empty_trail_covers_its_own_entry(db):
    assert create_checkpoint(actor=OPERATOR).sequence == 1


def test_broken_chain_is_not_signed(db, record_entries, tamper):
    record_entries(3)
    tamper("DELETE FROM audit_entries WHERE sequence = 2")
    with pytest.raises(ChainBroken) as caught:
        create_checkpoint(actor=OPERATOR)
    assert caught.value.result.first_bad_sequence == 2
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditCheckpoint)) == 0


def test_stored_checkpoints_count_in_verification(db, record_entries):
    record_entries(2)
    create_checkpoint(actor=OPERATOR)
    record_entries(1)
    create_checkpoint(actor=OPERATOR)
    db.session.commit()
    result = verify_chain()
    assert result.ok and result.checkpoints_checked == 2


def test_load_checkpoint_reads_the_printed_document(db, record_entries):
    record_entries(1)
    checkpoint = create_checkpoint(actor=OPERATOR)
    assert load_checkpoint(checkpoint.to_json().encode()) == checkpoint
