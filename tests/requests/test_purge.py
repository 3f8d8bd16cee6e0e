"""Retention enforced (GDPR Art. 5(1)(e)): what is past its period goes, batch by batch; holds protect."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from consentmgr.cli.purging import plan, run_purge
from consentmgr.consent.ledger import Evidence, grant_consent, withdraw_consent
from consentmgr.consent.models import ConsentEvent
from consentmgr.customers import services as customers
from consentmgr.customers.models import Customer, CustomerStatus, HistoryEntry
from consentmgr.requests import purge, services
from consentmgr.sql import utcnow
from tests.conftest import SHIPPED_POLICIES_DIR, TEST_ACTOR, postgresql_only
from tests.requests.conftest import DPO

UTC = dt.UTC
# The shipped policy 2026-03 is in effect from 2026-03-01; browsing activity is kept 396 days.
NOW = dt.datetime(2028, 6, 1, 12, 0, tzinfo=UTC)


def _add(customer, category: str, summary: str, when: dt.datetime) -> uuid.UUID:
    """Add a history entry; returns its id (the row may be gone by the time it is read)."""
    return customers.add_history(customer, {
        "occurred_at": when.isoformat(), "channel": "web", "kind": "visit",
        "data_category": category, "summary": summary}, actor=TEST_ACTOR).id


def _days_before(now: dt.datetime, days: int) -> dt.datetime:
    return now - dt.timedelta(days=days)


def _left(db) -> set[uuid.UUID]:
    db.session.expire_all()
    return set(db.session.scalars(sa.select(HistoryEntry.id)))


def _run(db, *, now=NOW, dry_run=False, batch_size=1000):
    return run_purge(db.session, plan(db.session, now=now), actor=TEST_ACTOR, dry_run=dry_run,
                     batch_size=batch_size)


def _outcome(report, name):
    return next(outcome for outcome in report.outcomes if outcome.name == name)


def test_history_past_its_categorys_period_is_deleted_and_nothing_else(db, customer):
    # browsing-activity: 396 days; support-history: 1095 days; order-history: 4018 days.
    gone = _add(customer, "browsing-activity", "Viewed watering cans", _days_before(NOW, 396))
    young = _add(customer, "browsing-activity", "Viewed rakes", _days_before(NOW, 395))
    support = _add(customer, "support-history", "Asked about delivery", _days_before(NOW, 400))
    order = _add(customer, "order-history", "Invoice 1", _days_before(NOW, 3000))
    db.session.commit()

    report = _run(db)

    assert _left(db) == {young, support, order}
    assert gone not in _left(db)
    assert _outcome(report, "history:browsing-activity").purged == 1
    assert _outcome(report, "history:browsing-activity").retention_days == 396
    assert _outcome(report, "history:order-history").purged == 0


def test_the_period_is_counted_at_the_time_given(db, customer):
    entry = _add(customer, "device-data", "Signed in from a phone", dt.datetime(2027, 1, 1, tzinfo=UTC))
    db.session.commit()

    _run(db, now=dt.datetime(2027, 1, 1, tzinfo=UTC) + dt.timedelta(days=182))
    assert entry in _left(db)
    _run(db, now=dt.datetime(2027, 1, 1, tzinfo=UTC) + dt.timedelta(days=183))
    assert entry not in _left(db)


def test_a_dry_run_counts_and_changes_nothing(db, customer):
    for n in range(3):
        _add(customer, "browsing-activity", f"Visit {n}", _days_before(NOW, 500))
    db.session.commit()
    before = _left(db)
    trail = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry))

    report = _run(db, dry_run=True)

    assert report.dry_run and _outcome(report, "history:browsing-activity").purged == 3
    assert _left(db) == before
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == trail


def test_a_second_run_finds_nothing_left_to_do(db, customer):
    for n in range(5):
        _add(customer, "browsing-activity", f"Visit {n}", _days_before(NOW, 500))
    db.session.commit()

    first = _run(db, batch_size=2)
    trail = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry))
    second = _run(db, batch_size=2)

    assert first.purged == 5 and second.purged == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == trail


def test_an_interrupted_run_keeps_its_committed_batches_and_a_rerun_finishes(db, customer,
                                                                             monkeypatch):
    for n in range(5):
        _add(customer, "browsing-activity", f"Visit {n}", _days_before(NOW, 500))
    db.session.commit()
    real, calls = purge.purge_history_batch, []

    def dies_on_the_third_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(purge, "purge_history_batch", dies_on_the_third_batch)
    with pytest.raises(KeyboardInterrupt):
        _run(db, batch_size=2)
    assert len(_left(db)) == 1  # two batches of two committed

    monkeypatch.setattr(purge, "purge_history_batch", real)
    assert _run(db, batch_size=2).purged == 1
    assert _left(db) == set()


def test_every_batch_is_audited_with_counts_only(db, create_customer, policies):
    marked = create_customer(name="PURGEDNAME Example", email="purged-person@example.org")
    for n in range(3):
        _add(marked, "browsing-activity", f"SECRETSUMMARY{n}", _days_before(NOW, 500))
    db.session.commit()

    _run(db, batch_size=2)

    entries = list(db.session.scalars(sa.select(AuditEntry).where(
        AuditEntry.action == actions.RETENTION_PURGED).order_by(AuditEntry.id)))
    assert [entry.details["purged"] for entry in entries] == [2, 1]
    assert entries[0].details["category"] == "history:browsing-activity"
    assert entries[0].details["retention_days"] == 396
    assert entries[0].details["policy_version"] == "2026-03"
    assert all(entry.subject_id is None and entry.justification is None for entry in entries)
    written = json.dumps([entry.as_record() for entry in entries])
    for personal in ("PURGEDNAME", "purged-person", "SECRETSUMMARY", str(marked.id)):
        assert personal not in written


def test_a_legal_hold_keeps_the_customers_history_and_is_counted(db, create_customer, policies):
    held, free = create_customer(), create_customer()
    kept = _add(held, "browsing-activity", "Held visit", _days_before(NOW, 500))
    _add(free, "browsing-activity", "Free visit", _days_before(NOW, 500))
    services.place_legal_hold(held, actor=DPO, exception="legal-claims")
    db.session.commit()

    report = _run(db)

    assert _left(db) == {kept}
    outcome = _outcome(report, "history:browsing-activity")
    assert (outcome.purged, outcome.held) == (1, 1)
    assert report.held == 1


def test_a_lifted_hold_protects_nothing(db, customer):
    _add(customer, "browsing-activity", "Visit", _days_before(NOW, 500))
    hold = services.place_legal_hold(customer, actor=DPO, exception="legal-claims")
    services.lift_legal_hold(hold, actor=DPO)
    db.session.commit()

    assert _run(db).purged == 1


def test_a_category_the_policy_does_not_declare_is_named_and_skipped(db, customer):
    legacy = _add(customer, "legacy-crm-notes", "Imported note", _days_before(NOW, 9000))
    db.session.commit()

    report = _run(db)

    outcome = _outcome(report, "history:legacy-crm-notes")
    assert outcome.skipped == "no retention period in policy 2026-03"
    assert outcome.purged == 0 and legacy in _left(db)


def test_consent_evidence_notes_are_skipped_without_a_period_in_the_policy(db, customer):
    report = _run(db)

    outcome = _outcome(report, purge.CONSENT_NOTES)
    assert "no retention period in policy 2026-03" in outcome.skipped
    assert "consent-evidence" in outcome.skipped


def test_no_policy_in_effect_purges_nothing(db, create_customer):
    with pytest.raises(purge.NoPolicyInEffect):
        plan(db.session, now=NOW)


# --- consent evidence notes, under a policy that gives them a period ------------------


@pytest.fixture
def evidence_policy(tmp_path, publish_policy_files):
    """The shipped policies plus 2027-01, which keeps consent evidence notes for 365 days."""
    text = (Path(SHIPPED_POLICIES_DIR) / "2026-03.md").read_text(encoding="utf-8")
    text = re.sub(r'^version: "2026-03"$', 'version: "2027-01"', text, count=1, flags=re.MULTILINE)
    text = re.sub(r"^effective_date: 2026-03-01$", "effective_date: 2027-01-01", text, count=1,
                  flags=re.MULTILINE)
    text = text.replace("\ndata_categories:\n", """
data_categories:
  - slug: consent-evidence
    title: Notes on how you gave or withdrew consent
    description: >-
      What our staff noted when you told them your choice on the phone or in a letter.
    retention: 1 year after you change your choice.
    retention_days: 365
""", 1)
    for source in Path(SHIPPED_POLICIES_DIR).glob("*.md"):
        (tmp_path / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "2027-01.md").write_text(text, encoding="utf-8")
    return publish_policy_files(tmp_path)


def _note_of(db, event_id) -> bytes | None:
    db.session.expire_all()
    return db.session.execute(sa.select(ConsentEvent.__table__.c.note)
                              .where(ConsentEvent.__table__.c.id == event_id)).scalar_one()


def test_an_old_evidence_note_is_cleared_once_the_consent_no_longer_rests_on_it(
        db, create_customer, evidence_policy):
    customer = create_customer()
    given = grant_consent(customer, "marketing-email", actor=DPO, channel="staff",
                          evidence=Evidence(note="Phone call, ticket 4711"))
    withdrawn = withdraw_consent(customer, "marketing-email", actor=DPO, channel="staff",
                                 evidence=Evidence(note="Letter of 2 May"))
    db.session.commit()
    later = utcnow() + dt.timedelta(days=800)

    report = _run(db, now=later)

    assert _outcome(report, purge.CONSENT_NOTES).purged == 1
    assert _note_of(db, given.id) is None
    # The current state rests on the withdrawal: its evidence stays (Art. 7(1)).
    assert _note_of(db, withdrawn.id) is not None
    event = db.session.get(ConsentEvent, given.id)
    assert event.purpose == "marketing-email" and event.policy_version == "2026-03"


def test_an_evidence_note_younger_than_its_period_stays(db, create_customer, evidence_policy):
    customer = create_customer()
    given = grant_consent(customer, "marketing-email", actor=DPO, channel="staff",
                          evidence=Evidence(note="Phone call"))
    withdraw_consent(customer, "marketing-email", actor=DPO, channel="staff")
    db.session.commit()

    _run(db, now=max(utcnow(), dt.datetime(2027, 1, 2, tzinfo=UTC)) + dt.timedelta(days=1))

    assert _note_of(db, given.id) is not None


@postgresql_only
def test_the_ledger_still_refuses_any_other_change(db, create_customer, evidence_policy):
    customer = create_customer()
    given = grant_consent(customer, "marketing-email", actor=DPO, channel="staff",
                          evidence=Evidence(note="Phone call"))
    db.session.commit()
    table = ConsentEvent.__table__
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        db.session.execute(sa.update(table).where(table.c.id == given.id)
                           .values(note=None, purpose="analytics"))
    db.session.rollback()
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        db.session.execute(sa.delete(table).where(table.c.id == given.id))
    db.session.rollback()


# --- closed accounts ---------------------------------------------------------------------


def test_a_record_kept_for_the_law_is_erased_when_its_period_ends(db, create_customer, policies,
                                                                  outbox):
    customer = create_customer()
    invoice = _add(customer, "order-history", "Invoice 7", utcnow() - dt.timedelta(days=10))
    db.session.commit()
    req = services.file_request(customer, "erasure", actor=DPO, channel="staff")
    db.session.commit()
    services.approve_request(req, actor=DPO)
    db.session.commit()
    until = db.session.get(Customer, customer.id).retained_until

    assert _outcome(_run(db, now=until - dt.timedelta(days=1)), purge.CLOSED_ACCOUNTS).purged == 0
    report = _run(db, now=until)

    assert _outcome(report, purge.CLOSED_ACCOUNTS).purged == 1
    db.session.expire_all()
    assert db.session.get(Customer, customer.id).status == CustomerStatus.ERASED
    # Past its own period too, by then: the kept invoice is gone.
    assert invoice not in _left(db)


def test_a_held_record_kept_for_the_law_is_skipped_and_counted(db, create_customer, policies,
                                                                outbox):
    customer = create_customer()
    _add(customer, "order-history", "Invoice 8", utcnow() - dt.timedelta(days=10))
    db.session.commit()
    req = services.file_request(customer, "erasure", actor=DPO, channel="staff")
    db.session.commit()
    services.approve_request(req, actor=DPO)
    db.session.commit()
    until = db.session.get(Customer, customer.id).retained_until
    services.place_legal_hold(db.session.get(Customer, customer.id), actor=DPO,
                              exception="legal-obligation")
    db.session.commit()

    outcome = _outcome(_run(db, now=until), purge.CLOSED_ACCOUNTS)

    assert (outcome.purged, outcome.held) == (0, 1)
    db.session.expire_all()
    assert db.session.get(Customer, customer.id).status == CustomerStatus.RESTRICTED
