"""``flask --app wsgi ...`` commands, one group per area."""

from __future__ import annotations

from flask import Flask

from consentmgr.cli.api_clients import api_clients
from consentmgr.cli.audit import audit
from consentmgr.cli.consent import consent
from consentmgr.cli.dashboard import dashboard
from consentmgr.cli.demo import demo
from consentmgr.cli.keys import keys
from consentmgr.cli.policies import policies
from consentmgr.cli.requests import requests
from consentmgr.cli.retention import retention
from consentmgr.cli.serve import serve
from consentmgr.cli.sessions import sessions
from consentmgr.cli.signing_keys import generate_signing_key, signing_status
from consentmgr.cli.staff import staff
from consentmgr.cli.webhooks import webhooks
from consentmgr.cli.worker import worker


def register_commands(app: Flask) -> None:
    """Attach every command group to ``app``."""
    app.cli.add_command(audit)
    app.cli.add_command(consent)
    app.cli.add_command(dashboard)
    app.cli.add_command(demo)
    app.cli.add_command(keys)
    keys.add_command(generate_signing_key)
    keys.add_command(signing_status)
    app.cli.add_command(policies)
    app.cli.add_command(api_clients)
    app.cli.add_command(requests)
    app.cli.add_command(retention)
    app.cli.add_command(serve)
    app.cli.add_command(sessions)
    app.cli.add_command(staff)
    app.cli.add_command(worker)
    app.cli.add_command(webhooks)
