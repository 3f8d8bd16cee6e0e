"""Audit signing keys rotate: checkpoints signed before a rotation still verify in ``audit verify``."""

from __future__ import annotations

import json

import sqlalchemy as sa

from consentmgr.audit.models import AuditCheckpoint
from consentmgr.audit.verify import checkpoints_by_key, create_checkpoint, verify_chain
from consentmgr.crypto.signing import b64url_encode, key_id
from tests.audit.helpers import AGENT
from tests.fixtures.signing import AUDIT_A, AUDIT_B, KEY_A, KEY_B


def _checkpoint_file(runner, tmp_path, name="checkpoint.json"):
    path = tmp_path / name
    result = runner.invoke(args=["audit", "checkpoint", "--output", str(path)])
    assert result.exit_code == 0, result.output
    return path


def test_a_checkpoint_kept_off_the_box_verifies_after_a_rotation(
        runner, record_entries, signing_keys, tmp_path):
    record_entries(2)
    path = _checkpoint_file(runner, tmp_path)
    assert json.loads(path.read_text())["key_id"] == key_id(AUDIT_A)

    signing_keys(audit=[AUDIT_B, AUDIT_A])
    record_entries(1)
    result = runner.invoke(args=["audit", "verify", "--checkpoint", str(path)])

    assert result.exit_code == 0, result.output
    assert "verifies and matches the chain" in result.output


def test_after_a_rotation_the_new_key_signs_and_both_checkpoints_verify(
        db, runner, record_entries, signing_keys, tmp_path):
    record_entries(2)
    _checkpoint_file(runner, tmp_path, "before.json")
    signing_keys(audit=[AUDIT_B, AUDIT_A])
    record_entries(1)

    after = json.loads(_checkpoint_file(runner, tmp_path, "after.json").read_text())

    assert after["key_id"] == key_id(AUDIT_B)
    result = verify_chain()
    assert result.ok, result.reason
    assert result.checkpoints_checked == 2
    assert checkpoints_by_key() == {key_id(AUDIT_A): 1, key_id(AUDIT_B): 1}


def test_a_stored_checkpoint_by_an_older_key_in_the_ring_is_signature_checked(
        db, record_entries, signing_keys, tamper):
    record_entries(2)
    checkpoint = create_checkpoint(actor=AGENT)
    db.session.commit()
    # Someone without key A re-signs A's checkpoint (same claims, same kid) with another key.
    signing_input = checkpoint.jws.rsplit(".", 1)[0]
    forged = f"{signing_input}.{b64url_encode(AUDIT_B.sign(signing_input.encode()))}"
    tamper(sa.update(AuditCheckpoint).where(AuditCheckpoint.sequence == checkpoint.sequence)
           .values(jws=forged))

    signing_keys(audit=[AUDIT_B, AUDIT_A])
    result = verify_chain()

    assert not result.ok
    assert "signature" in result.reason and f"entry {checkpoint.sequence}" in result.reason


def test_a_checkpoint_whose_key_was_retired_fails_clearly_when_given(
        runner, record_entries, signing_keys, tmp_path):
    record_entries(2)
    path = _checkpoint_file(runner, tmp_path)

    signing_keys(audit=[AUDIT_B])
    result = runner.invoke(args=["audit", "verify", "--checkpoint", str(path)])

    assert result.exit_code == 1
    assert (f"signed by key {key_id(AUDIT_A)}, not by the configured audit signing keys "
            f"({key_id(AUDIT_B)}): an unknown or retired key") in result.output


def test_a_stored_checkpoint_of_a_retired_key_is_still_compared_with_the_chain(
        db, record_entries, signing_keys):
    record_entries(2)
    create_checkpoint(actor=AGENT)
    db.session.commit()

    signing_keys(audit=[AUDIT_B])
    result = verify_chain()

    assert result.ok and result.checkpoints_checked == 1


def test_signing_status_lists_both_rings_by_key_id(runner, record_entries, signing_keys, tmp_path):
    record_entries(1)
    _checkpoint_file(runner, tmp_path)
    signing_keys(receipt=[KEY_B, KEY_A], audit=[AUDIT_B])

    result = runner.invoke(args=["keys", "signing-status"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert f"  {key_id(KEY_B)}  signs new receipts" in lines
    assert f"  {key_id(KEY_A)}  verifies only" in lines
    assert f"  {key_id(AUDIT_B)}  signs new checkpoints; 0 stored checkpoints" in lines
    assert any(line.startswith(f"  {key_id(AUDIT_A)}  not configured (retired); 1 stored")
               for line in lines)
