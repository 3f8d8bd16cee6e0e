"""``flask sessions ...``: housekeeping of the server-side web sessions."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from consentmgr.extensions import db
from consentmgr.sessions.services import SessionKind, policy_from, purge
from consentmgr.sql import utcnow
from consentmgr.unit_of_work import unit_of_work

sessions = AppGroup("sessions", help="Server-side sessions of the portal and the staff screens.")


@sessions.command("purge")
def purge_command() -> None:
    """Delete ended sessions and those past their idle time or lifetime (run it hourly)."""
    policies = {kind: policy_from(current_app.config, kind) for kind in SessionKind}
    with unit_of_work():
        deleted = purge(db.session, now=utcnow(), policies=policies)
    click.echo(f"Deleted {deleted} ended or expired session(s).")
