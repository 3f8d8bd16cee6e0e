"""``flask --app wsgi ...`` commands, one group per area."""

from __future__ import annotations

from flask import Flask


def register_commands(app: Flask) -> None:
    """Attach every command group to ``app``."""
    from consentmgr.cli.demo import demo
    from consentmgr.cli.keys import keys

    app.cli.add_command(demo)
    app.cli.add_command(keys)
