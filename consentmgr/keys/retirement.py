"""Retiring a master key once nothing is wrapped by it any more.

The application cannot edit its own configuration: retiring records that
the key is no longer needed (in the key store and the audit trail), and
the operator then removes it from ``CONSENTMGR_MASTER_KEYS``. ``keys
status`` warns while a retired key is still configured.
"""

from __future__ import annotations

from typing import Mapping

import sqlalchemy as sa
from sqlalchemy.orm import Session

from consentmgr.actors import Actor
from consentmgr.audit import actions as audit_actions
from consentmgr.audit import services as audit
from consentmgr.crypto import KeyRing
from consentmgr.errors import Conflict
from consentmgr.keys.models import DataKey, RetiredMasterKey


class RetirementRefused(Conflict):
    """The master key cannot be retired now (see the message); nothing was changed."""


def wrapped_by(session: Session, master_key_id: str) -> int:
    """How many live data keys ``master_key_id`` wraps."""
    table = DataKey.__table__
    return session.scalar(
        sa.select(sa.func.count()).select_from(table)
        .where(table.c.master_key_id == master_key_id, table.c.wrapped.is_not(None))) or 0


def retired_master_keys(session: Session) -> list[str]:
    """Ids of the retired master keys."""
    return list(session.scalars(sa.select(RetiredMasterKey.master_key_id)
                                .order_by(RetiredMasterKey.master_key_id)))


def retire_master_key(session: Session, keyring: KeyRing, master_key_id: str, *, actor: Actor,
                      other_uses: Mapping[str, int] | None = None) -> RetiredMasterKey:
    """Record that ``master_key_id`` is retired; audited, flushed.

    Refused (:class:`RetirementRefused`, nothing changed) for the current
    key, for an id that is neither configured nor ever used in the key
    store, for a key already retired, and while any live data key is still
    wrapped by it -- or anything in ``other_uses`` (``{"queued mails": 3}``,
    counted by the caller) still is.
    """
    if master_key_id == keyring.current.id:
        raise RetirementRefused(
            f"'{master_key_id}' is the current master key: put a new key first in "
            "CONSENTMGR_MASTER_KEYS and run `flask keys rotate-master` before retiring it")
    table = DataKey.__table__
    used = session.scalar(sa.select(sa.func.count()).select_from(table)
                          .where(table.c.master_key_id == master_key_id))
    if keyring.get(master_key_id) is None and not used:
        raise RetirementRefused(
            f"unknown master key '{master_key_id}': not configured "
            f"(configured: {', '.join(keyring.ids)}) and never used in the key store")
    if session.get(RetiredMasterKey, master_key_id) is not None:
        raise RetirementRefused(f"master key '{master_key_id}' is already retired")
    count = wrapped_by(session, master_key_id)
    if count:
        raise RetirementRefused(
            f"{count} data keys are still wrapped by master key '{master_key_id}': "
            "run `flask keys rotate-master` first")
    for what, number in (other_uses or {}).items():
        if number:
            raise RetirementRefused(
                f"{number} {what} are still sealed under master key '{master_key_id}': "
                "let the worker deliver them (or run `flask keys rotate-master` later) first")
    retired = RetiredMasterKey(master_key_id=master_key_id)
    session.add(retired)
    audit.record(audit_actions.KEYS_RETIRE_MASTER, actor=actor,
                 details={"master_key": master_key_id})
    session.flush()
    return retired
