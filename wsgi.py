"""WSGI entry point: ``gunicorn -c gunicorn.conf.py wsgi:app`` or ``flask --app wsgi ...``."""

from consentmgr import create_app
from consentmgr.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:
    # One clear line naming the variable, not a traceback.
    raise SystemExit(f"consentmgr: configuration error: {exc}") from None
