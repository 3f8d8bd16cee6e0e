"""One retention run: the batches, one commit each, and the summary.

Shared by ``flask retention purge`` (:mod:`consentmgr.cli.retention`) and
the worker's daily ``requests.purge-retention`` schedule (:mod:`consentmgr.cli.worker`),
so the two can never disagree. The rules -- what is past its period, what a
legal hold protects -- are the requests area's
(:mod:`consentmgr.requests.purge`); the housekeeping purges other areas
already own (expired sign-in tokens, idempotency records, settled jobs,
undeliverable mail, ended sessions) are passed in as they are and run once
each, in their own unit of work, with their count audited.

A dry run counts instead of deleting; the housekeeping purges, which know
only how to delete, run in a unit of work that is rolled back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from consentmgr.actors import Actor
from consentmgr.requests import purge
from consentmgr.unit_of_work import rollback, unit_of_work

#: A purge another area owns: its name in the summary, and a function of ``now`` returning
#: how many rows it deleted (it flushes; the caller commits).
Housekeeping = tuple[str, Callable[[dt.datetime], int]]
#: Told the number of items each committed batch removed (a progress bar, or nothing).
Progress = Callable[[int], None]


@dataclass
class Outcome:
    """What one step did (or, in a dry run, would do)."""

    name: str
    purged: int = 0
    held: int = 0
    retention_days: int | None = None
    skipped: str | None = None
    #: What the summary says of the items: (done, in a dry run); default "purged", "would go".
    verb: tuple[str, str] | None = None


@dataclass
class RunReport:
    """A run's outcome per step, and the totals for the summary line."""

    policy_version: str
    now: dt.datetime
    dry_run: bool
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def purged(self) -> int:
        """Items deleted (or that would be); warnings of a closure are not items."""
        return sum(outcome.purged for outcome in self.outcomes
                   if outcome.name != purge.INACTIVE_WARNINGS)

    @property
    def warned(self) -> int:
        """Customers told their quiet account closes soon (or who would be)."""
        return sum(outcome.purged for outcome in self.outcomes
                   if outcome.name == purge.INACTIVE_WARNINGS)

    @property
    def held(self) -> int:
        """Items past their period kept because of a legal hold."""
        return sum(outcome.held for outcome in self.outcomes)

    @property
    def skipped(self) -> list[Outcome]:
        """Steps not run: the policy gives them no period."""
        return [outcome for outcome in self.outcomes if outcome.skipped]


def plan(session: Session, *, now: dt.datetime) -> purge.RetentionPlan:
    """The periods of the policy in effect (:class:`~consentmgr.requests.purge.NoPolicyInEffect`)."""
    with unit_of_work(session):
        return purge.retention_plan(session, now=now)


def due_count(session: Session, retention: purge.RetentionPlan) -> int:
    """How many history entries, notes and records the batched steps will remove (for progress)."""
    with unit_of_work(session):
        total = sum(purge.count_history(session, period)[0] for period in retention.history)
        total += purge.count_consent_notes(session, retention.consent_notes)[0]
        if retention.inactive_warnings is not None:
            total += purge.count_inactive_warnings(session, retention.inactive_warnings,
                                                   now=retention.now)[0]
        if retention.inactive_accounts is not None:
            total += purge.count_inactive_accounts(session, retention.inactive_accounts,
                                                   now=retention.now)[0]
        total += purge.count_closed_accounts(session, now=retention.now)[0]
    return total


def run_purge(session: Session, retention: purge.RetentionPlan, *, actor: Actor,
              dry_run: bool = False, batch_size: int = purge.DEFAULT_BATCH_SIZE,
              housekeeping: Sequence[Housekeeping] = (),
              progress: Progress | None = None) -> RunReport:
    """Purge what ``retention`` says is past its period, one committed batch at a time.

    Resumable and idempotent: a batch that committed stays done, and a
    second run finds nothing left of it.
    """
    report = RunReport(retention.policy_version, retention.now, dry_run)
    version = retention.policy_version
    for period in retention.history:
        report.outcomes.append(_batched(
            session, period, purge.count_history, dry_run=dry_run, progress=progress,
            batch=lambda p=period: purge.purge_history_batch(
                session, p, actor=actor, policy_version=version, batch_size=batch_size)))
    report.outcomes.append(_batched(
        session, retention.consent_notes, purge.count_consent_notes, dry_run=dry_run,
        progress=progress,
        batch=lambda: purge.purge_consent_notes_batch(
            session, retention.consent_notes, actor=actor, policy_version=version,
            batch_size=batch_size)))
    now = retention.now
    warnings, inactive = retention.inactive_warnings, retention.inactive_accounts
    if warnings is not None:
        report.outcomes.append(_batched(
            session, warnings, lambda s, p: purge.count_inactive_warnings(s, p, now=now),
            dry_run=dry_run, progress=progress, verb=("warned", "would be warned"),
            batch=lambda: purge.warn_inactive_accounts_batch(
                session, warnings, actor=actor, now=now, policy_version=version,
                batch_size=batch_size)))
    if inactive is not None:
        # Before the closed accounts: an inactive account erased in full needs nothing more,
        # one that keeps history for the law is restricted until that period ends.
        report.outcomes.append(_batched(
            session, inactive, lambda s, p: purge.count_inactive_accounts(s, p, now=now),
            dry_run=dry_run, progress=progress, verb=("closed", "would close"),
            batch=lambda: purge.close_inactive_accounts_batch(
                session, inactive, actor=actor, now=now, policy_version=version,
                batch_size=batch_size)))
    report.outcomes.append(_closed_accounts(session, retention, actor=actor, dry_run=dry_run,
                                            batch_size=batch_size, progress=progress))
    for name, purge_expired in housekeeping:
        report.outcomes.append(_housekeeping(session, name, purge_expired, now=retention.now,
                                             actor=actor, policy_version=version,
                                             dry_run=dry_run))
    return report


def _batched(session: Session, period: purge.Period,
             count: Callable[[Session, purge.Period], tuple[int, int]], *, dry_run: bool,
             batch: Callable[[], int], progress: Progress | None,
             verb: tuple[str, str] | None = None) -> Outcome:
    outcome = Outcome(period.name, retention_days=period.retention_days, skipped=period.skipped,
                      verb=verb)
    if period.skipped:
        return outcome
    with unit_of_work(session):
        due, outcome.held = count(session, period)
    if dry_run:
        outcome.purged = due
        return outcome
    while True:
        # One unit of work per batch: the deletions and the batch's audit entry commit together.
        with unit_of_work(session):
            done = batch()
        if not done:
            return outcome
        outcome.purged += done
        if progress is not None:
            progress(done)


def _closed_accounts(session: Session, retention: purge.RetentionPlan, *, actor: Actor,
                     dry_run: bool, batch_size: int, progress: Progress | None) -> Outcome:
    outcome = Outcome(purge.CLOSED_ACCOUNTS)
    with unit_of_work(session):
        due, outcome.held = purge.count_closed_accounts(session, now=retention.now)
    if dry_run:
        outcome.purged = due
        return outcome
    while True:
        with unit_of_work(session):
            done = purge.purge_closed_accounts_batch(
                session, actor=actor, now=retention.now,
                policy_version=retention.policy_version, batch_size=batch_size)
        if not done:
            return outcome
        outcome.purged += done
        if progress is not None:
            progress(done)


def _housekeeping(session: Session, name: str, purge_expired: Callable[[dt.datetime], int], *,
                  now: dt.datetime, actor: Actor, policy_version: str,
                  dry_run: bool) -> Outcome:
    outcome = Outcome(name)
    if dry_run:
        try:
            outcome.purged = purge_expired(now)
        finally:
            rollback(session)  # counted by deleting, and undone
        return outcome
    with unit_of_work(session):
        outcome.purged = purge_expired(now)
        purge.record_purged(session, name, outcome.purged, actor=actor,
                            policy_version=policy_version)
    return outcome


def summary_lines(report: RunReport) -> list[str]:
    """The run's report for an operator: one line per step, then the totals."""
    verb = "would go" if report.dry_run else "purged"
    dry = " (dry run: nothing changed)" if report.dry_run else ""
    lines = [f"Retention under policy {report.policy_version}, as of "
             + f"{report.now:%Y-%m-%d %H:%M} UTC{dry}:"]
    for outcome in report.outcomes:
        period = f" ({outcome.retention_days} days)" if outcome.retention_days else ""
        if outcome.skipped:
            lines.append(f"  {outcome.name}: skipped, {outcome.skipped}")
            continue
        held = f", {outcome.held} held by a legal hold" if outcome.held else ""
        said = (outcome.verb[1] if report.dry_run else outcome.verb[0]) if outcome.verb else verb
        lines.append(f"  {outcome.name}{period}: {outcome.purged} {said}{held}")
    warned = f"; {report.warned} customer(s) warned of closing" if report.warned else ""
    lines.append(f"{'Would purge' if report.dry_run else 'Purged'} {report.purged} item(s); "
                 f"{report.held} held by a legal hold; {len(report.skipped)} skipped{warned}.")
    return lines
