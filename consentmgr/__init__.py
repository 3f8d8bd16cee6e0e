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
from consentmgr.extensions import (
    csrf,
    db,
    limiter,
    limiter_storage_uri,
    migrate,
    tune_engines,
)
from consentmgr.keys.models import DataKey
from consentmgr.keys.services import check_master_keys
from consentmgr.runtime import install, runtime
from consentmgr.web.api import init_api
from consentmgr.web.api.check_path import init_check_path
from consentmgr.web.errors import register_error_pages
from consentmgr.web.headers import init_headers
from consentmgr.web.language import init_language
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


class ConsentApp(Flask):
    """Flask, remembering which hooks and views are coroutines instead of asking each call.

    Flask asks ``inspect`` about every hook and view on every request (about
    20 times for a consent check, ~80 µs of a ~1 ms request). Whether a
    function is a coroutine never changes, so the answer is kept per
    function -- the underlying function for a bound method, so that a view
    instantiated per request adds no entry.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._coroutine: dict[Any, bool] = {}

    def ensure_sync(self, func: Any) -> Any:
        key = getattr(func, "__func__", func)
        known = self._coroutine.get(key)
        if known is None:
            known = self._coroutine[key] = super().ensure_sync(func) is not func
        return self.async_to_sync(func) if known else func
MIGRATIONS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "migrations")


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application.

    ``config`` replaces the process environment (tests pass their own
    ``CONSENTMGR_*`` values); other upper-case keys in it go straight into
    ``app.config`` (for example ``TESTING``).
    """
    app = ConsentApp(__name__, instance_relative_config=True)
    environ = dict(os.environ) if config is None else dict(config)
    settings = load_settings(environ, app.instance_path)
    app.config.update(settings.flask_config())
    if config is not None:
        app.config.update({k: v for k, v in config.items() if k.isupper() and not k.startswith(PREFIX)})
    install(app, settings)
    # The edge, first: every later hook's request already has its id, limits and headers.
    init_request_log(app)
    init_limits(app)
    # The consent check's short path sits under the proxy fix (init_headers), so
    # it sees the client's scheme as Flask does; it resolves the route when called.
    init_check_path(app)
    init_headers(app)

    db.init_app(app)
    with app.app_context():
        tune_engines()
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, compare_type=True)
    csrf.init_app(app)
    app.config["RATELIMIT_STORAGE_URI"] = limiter_storage_uri(
        app.config.get("RATELIMIT_STORAGE_URI", "memory://"))
    limiter.init_app(app)

    for blueprint in (public_bp, portal_bp, wellknown_bp, staff_bp):
        app.register_blueprint(blueprint)
    install_server_sessions(app)
    init_api(app)
    init_health(app)
    register_error_pages(app)
    init_language(app)
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
