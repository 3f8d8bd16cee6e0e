"""consentmgr: a privacy-aware customer data and consent manager."""

from __future__ import annotations

import logging
import os
from typing import Any, Mapping

import sqlalchemy as sa
from flask import Flask

# ``models`` imports every model, so every table is registered before migrations run.
from consentmgr import models  # noqa: F401
from consentmgr.cli import register_commands
from consentmgr.config import PREFIX, ConfigError, load_settings
from consentmgr.crypto import KeyConfigError
from consentmgr.extensions import csrf, db, limiter, migrate, tune_sqlite_engines
from consentmgr.keys.models import DataKey
from consentmgr.keys.services import check_master_keys
from consentmgr.runtime import install, runtime
from consentmgr.web.api import init_api
from consentmgr.web.errors import register_error_pages
from consentmgr.web.headers import init_headers
from consentmgr.web.health import init_health
from consentmgr.web.limits import init_limits
from consentmgr.web.links import web_links
from consentmgr.web.portal import bp as portal_bp
from consentmgr.web.portal import wellknown_bp
from consentmgr.web.public import bp as public_bp
from consentmgr.web.request_log import init_request_log
from consentmgr.web.sessions import install_server_sessions
from consentmgr.web.staff import bp as staff_bp

log = logging.getLogger(__name__)
MIGRATIONS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "migrations")


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application.

    ``config`` replaces the process environment (tests pass their own
    ``CONSENTMGR_*`` values); other upper-case keys in it go straight into
    ``app.config`` (for example ``TESTING``).
    """
    app = Flask(__name__, instance_relative_config=True)
    environ = dict(os.environ) if config is None else dict(config)
    settings = load_settings(environ, app.instance_path)
    app.config.update(settings.flask_config())
    if config is not None:
        app.config.update({k: v for k, v in config.items() if k.isupper() and not k.startswith(PREFIX)})
    install(app, settings)
    # The edge, first: every later hook's request already has its id, limits and headers.
    init_request_log(app)
    init_limits(app)
    init_headers(app)

    db.init_app(app)
    with app.app_context():
        tune_sqlite_engines()
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, compare_type=True)
    csrf.init_app(app)
    limiter.init_app(app)

    for blueprint in (public_bp, portal_bp, wellknown_bp, staff_bp):
        app.register_blueprint(blueprint)
    install_server_sessions(app)
    init_api(app)
    init_health(app)
    register_error_pages(app)
    # Services build links for mails and receipts from the routes just registered.
    runtime(app).links = web_links(app, settings.base_url)
    register_commands(app)
    _check_keys(app)
    return app


def _check_keys(app: Flask) -> None:
    """Fail at start-up, not at the first customer, when the master key is wrong."""
    with app.app_context():
        session = db.session
        bind = session.get_bind(clause=DataKey.__table__)
        try:
            if not sa.inspect(bind).has_table(DataKey.__tablename__):
                return
            check_master_keys(session, runtime(app).master_keys)
        except sa.exc.OperationalError as exc:
            log.warning("could not check master keys at start-up: %s", type(exc).__name__)
        finally:
            db.session.remove()


__all__ = ["ConfigError", "KeyConfigError", "create_app"]
