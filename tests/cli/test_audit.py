"""``flask audit verify | checkpoint | list``: exit codes and what operators see."""

from __future__ import annotations

import json
import uuid

import pytest
import sqlalchemy as sa

from consentmgr.audit.models import AuditCheckpoint
from tests.audit.helpers import recorder, tamperer


@pytest.fixture
def record_entries(db):
    return recorder(db)


@pytest.fixture
def tamper(db):
    return tamperer(db)


def test_verify_passes_on_an_intact_trail(runner, record_entries):
    record_entries(4)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "Audit trail intact: 4 entries, head sequence 4" in result.output


def test_verify_passes_on_demo_data(runner, sequenced):
    runner.invoke(args=["demo", "load", "--count", "3"])
    sequenced()  # the worker's job on PostgreSQL: a slow load may outlast the allowed delay
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "Audit trail intact" in result.output


def test_verify_fails_naming_the_first_bad_sequence_after_a_row_is_edited(runner, record_entries, tamper):
    record_entries(4)
    tamper("UPDATE audit_entries SET reason_code = 'legal-obligation' WHERE sequence = 2")
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "first bad sequence 2" in result.output


def test_checkpoint_prints_one_signed_json_document_and_stores_it(runner, db, record_entries):
    record_entries(2)
    result = runner.invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["sequence"] == 3 and document["jws"].count(".") == 2
    assert document["key_id"] == document["public_key"]["kid"]
    assert db.session.get(AuditCheckpoint, 3).jws == document["jws"]


def test_checkpoint_output_file_verifies_against_the_chain(runner, record_entries, tmp_path):
    record_entries(2)
    path = tmp_path / "checkpoint.json"
    written = runner.invoke(args=["audit", "checkpoint", "--output", str(path)])
    assert written.exit_code == 0 and "written to" in written.output
    result = runner.invoke(args=["audit", "verify", "--checkpoint", str(path)])
    assert result.exit_code == 0, result.output
    assert "The given checkpoint (entry 3" in result.output


def test_verify_fails_when_entries_after_a_checkpoint_were_removed(runner, db, record_entries,
                                                                  tamper, tmp_path):
    record_entries(4)
    path = tmp_path / "checkpoint.json"
    runner.invoke(args=["audit", "checkpoint", "--output", str(path)])
    record_entries(2)
    last_kept = db.session.execute(sa.text("SELECT hash FROM audit_entries WHERE sequence = 3")).scalar()
    tamper("DELETE FROM audit_entries WHERE sequence > 3", "DELETE FROM audit_checkpoints",
           sa.text("UPDATE audit_head SET sequence = 3, hash = :hash").bindparams(hash=last_kept))
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    result = runner.invoke(args=["audit", "verify", "--checkpoint", str(path)])
    assert result.exit_code == 1
    assert "first bad sequence 4" in result.output and "were removed" in result.output


def test_verify_fails_when_the_checkpoint_file_was_edited(runner, record_entries, tmp_path):
    record_entries(4)
    path = tmp_path / "checkpoint.json"
    runner.invoke(args=["audit", "checkpoint", "--output", str(path)])
    document = json.loads(path.read_text())
    document["sequence"] = 2
    path.write_text(json.dumps(document))
    result = runner.invoke(args=["audit", "verify", "--checkpoint", str(path)])
    assert result.exit_code == 1 and "signature is invalid" in result.output


def test_unreadable_checkpoint_file_is_a_usage_error(runner, tmp_path):
    path = tmp_path / "checkpoint.json"
    path.write_text("this is not a checkpoint")
    result = runner.invoke(args=["audit", "verify", "--checkpoint", str(path)])
    assert result.exit_code == 2 and "the checkpoint is not JSON" in result.output


def test_checkpoint_refuses_to_sign_a_broken_chain(runner, db, record_entries, tamper):
    record_entries(3)
    tamper("DELETE FROM audit_entries WHERE sequence = 2")
    result = runner.invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 1 and "first bad sequence 2" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditCheckpoint)) == 0


def test_list_shows_ids_actions_and_field_names_but_no_justification(runner, record_entries):
    customer = uuid.uuid4()
    record_entries(1, subject_id=customer, action="customer.reveal", fields=["phone"],
                   reason_code="support-ticket",
                   justification="Ticket 4711 secret words")
    record_entries(1)
    result = runner.invoke(args=["audit", "list", "--customer", str(customer)])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert f"customer={customer}" in lines[0] and "customer.reveal" in lines[0]
    assert "fields=phone" in lines[0] and "reason=support-ticket" in lines[0]
    assert "secret words" not in result.output


def test_list_limits_newest_first(runner, record_entries):
    record_entries(5)
    result = runner.invoke(args=["audit", "list", "--limit", "2"])
    assert [line.split()[0] for line in result.output.strip().splitlines()] == ["5", "4"]


def test_list_with_a_malformed_customer_id_is_a_usage_error(runner):
    result = runner.invoke(args=["audit", "list", "--customer", "not-a-uuid"])
    assert result.exit_code == 2 and "customer id" in result.output


def test_status_reports_the_head_and_nothing_waiting(runner, record_entries):
    record_entries(3)
    result = runner.invoke(args=["audit", "status"])
    assert result.exit_code == 0, result.output
    assert "Chain head: entry 3." in result.output
    assert "Waiting for a place: 0 entries." in result.output


def test_status_fails_when_entries_wait_too_long_with_no_sequencer(app, db, runner, monkeypatch):
    from consentmgr.audit.sequencer import sequenced_inline
    from consentmgr.audit.services import record
    from tests.audit.helpers import AGENT

    record("customer.view", actor=AGENT)
    db.session.commit()
    if sequenced_inline(db.session):
        assert "inline" in runner.invoke(args=["audit", "status"]).output
        return
    monkeypatch.setitem(app.config, "AUDIT_SEQUENCE_DELAY_SECONDS", 0)
    result = runner.invoke(args=["audit", "status"])
    assert result.exit_code == 1
    assert "Sequencer: none running" in result.output
    assert "Waiting for a place: 1 entry" in result.output
