"""gunicorn settings for consentmgr: ``gunicorn -c gunicorn.conf.py wsgi:app``.

Command-line options (``-w``, ``-b``) override these.
"""

import gc
import os

bind = "127.0.0.1:8000"  # behind a TLS-terminating proxy
workers = 2
worker_class = "sync"  # measured fastest for this app (benchmarks/README.md)
# No gunicorn access log: its lines carry the raw path and query string (sign-in
# tokens, ?email=). The app writes one JSON line per request instead, on the
# consentmgr.access logger, to standard error (consentmgr/web/request_log.py).
accesslog = None
errorlog = "-"


def post_worker_init(worker):
    """Freeze the loaded application out of the cycle collector's sight.

    After start-up a worker holds a few hundred thousand long-lived objects
    (modules, the app, mappers, schemas). Every full collection walked all of
    them: a 70-90 ms pause per worker, which the requests queued behind it
    felt as tail latency. Frozen, a full collection takes ~4 ms.
    """
    gc.collect()
    gc.freeze()


def on_starting(server):
    """Check the configuration once, in the master, before any worker starts.

    A worker that cannot build the app exits, and gunicorn would start
    another, and another: the operator gets one clear line instead.
    """
    import sys

    from consentmgr.config import PROJECT_ROOT, ConfigError, load_settings

    try:
        load_settings(dict(os.environ), str(PROJECT_ROOT / "instance"))
    except ConfigError as exc:
        print(f"consentmgr: configuration error: {exc}", file=sys.stderr)
        sys.exit(1)
