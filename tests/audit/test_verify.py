"""Verifying the chain against its head and checkpoints, with the key the caller trusts.

Tampering in every shape is in ``test_tampering.py``; the checkpoint
document in ``test_checkpoints.py``.
"""

from __future__ import annotations

from consentmgr.actors import Actor
from consentmgr.audit.services import create_checkpoint, verify_chain
from consentmgr.crypto.signing import key_id, load_private_key
from consentmgr.runtime import runtime

OPERATOR = Actor("system", "cli:audit checkpoint")
OTHER_KEY = load_private_key(bytes(range(32)), source="test")


def test_empty_trail_verifies(db):
    result = verify_chain()
    assert (result.ok, result.checked, result.head_sequence) == (True, 0, 0)


def test_verify_reports_entries_and_head(db, record_entries):
    entries = record_entries(4)
    result = verify_chain()
    assert result.ok and result.checked == 4
    assert (result.head_sequence, result.head_hash) == (4, entries[-1].hash)


def test_without_a_key_the_configured_audit_signing_key_signs(app, db, record_entries):
    record_entries(1)
    checkpoint = create_checkpoint(actor=OPERATOR)
    db.session.commit()
    configured = runtime(app).settings.audit_signing_key
    assert checkpoint.key_id == key_id(configured)
    assert verify_chain(checkpoint=checkpoint, signing_key=configured).ok


def test_a_checkpoint_verifies_only_against_the_key_given(db, record_entries):
    record_entries(2)
    checkpoint = create_checkpoint(actor=OPERATOR, signing_key=OTHER_KEY)
    db.session.commit()
    assert checkpoint.key_id == key_id(OTHER_KEY)
    assert verify_chain(checkpoint=checkpoint, signing_key=OTHER_KEY).ok
    refused = verify_chain(checkpoint=checkpoint)  # trusts the configured key only
    assert not refused.ok
    assert key_id(OTHER_KEY) in refused.reason


def test_a_stored_checkpoint_by_an_earlier_key_is_still_compared_with_the_chain(db, record_entries):
    record_entries(2)
    create_checkpoint(actor=OPERATOR, signing_key=OTHER_KEY)
    db.session.commit()
    result = verify_chain()  # the configured key did not sign it: a rotated key's checkpoint
    assert result.ok and result.checkpoints_checked == 1
