"""The jobs area's public face: enqueue in a unit of work; the worker's loop and registry."""

from __future__ import annotations

from consentmgr.jobs.models import Job, JobSchedule
from consentmgr.jobs.queue import (
    DEFAULT_MAX_ATTEMPTS,
    LEASE_EXPIRED,
    Claim,
    LeaseLost,
    PayloadNotDataFree,
    backoff,
    claim_next,
    enqueue,
    fail_abandoned,
    finish,
    purge_settled,
    record_failure,
)
from consentmgr.jobs.registry import Registry, Schedule, UnknownJobKind
from consentmgr.jobs.runner import DEFAULT_LEASE, DEFAULT_RETRY_BASE, Worker
from consentmgr.jobs.schedules import claim_due

__all__ = [
    "DEFAULT_LEASE", "DEFAULT_MAX_ATTEMPTS", "DEFAULT_RETRY_BASE", "LEASE_EXPIRED", "Claim", "Job",
    "JobSchedule", "LeaseLost", "PayloadNotDataFree", "Registry", "Schedule", "UnknownJobKind",
    "Worker", "backoff", "claim_due", "claim_next", "enqueue", "fail_abandoned", "finish",
    "purge_settled", "record_failure",
]
