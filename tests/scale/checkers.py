"""A checker process for the load tests: hammers the cached consent check, remembers what it saw.

Run with the ``spawn`` start method: a fresh interpreter builds its own app,
as a gunicorn worker would, and its cache hears of changes only through
PostgreSQL's notifications (no local evictions: it writes nothing).
"""

from __future__ import annotations

import random
import time
import uuid
from typing import Any

from consentmgr import create_app
from consentmgr.consent.checks import check_consent, check_sources
from tests.conftest import base_config


def hammer(database_url: str, instance_path: str, customer_ids: list[uuid.UUID], purpose: str,
           ready: Any, stop: Any, results: Any) -> None:
    """Check ``customer_ids`` round and round until ``stop`` is set.

    Puts on ``results``: for each customer the latest time (``time.monotonic``,
    the same clock in every process) at which a check that answered
    "allowed" *started*, the number of checks, and how many the cache answered.
    """
    app = create_app(base_config(database_url, instance_path))
    with app.app_context():
        cache = check_sources().cache
        assert cache is not None
        check_consent(customer_ids[0], purpose)  # starts the listener
        deadline = time.monotonic() + 30
        while not cache.serving and time.monotonic() < deadline:
            time.sleep(0.01)
        for customer_id in customer_ids:  # warm: every customer cached
            check_consent(customer_id, purpose)
    ready.set()
    last_allowed: dict[uuid.UUID, float] = {}
    checks = 0
    order = list(customer_ids)
    while not stop.is_set():
        random.shuffle(order)
        for customer_id in order:
            with app.app_context():
                started = time.monotonic()
                if check_consent(customer_id, purpose).allowed:
                    last_allowed[customer_id] = started
            checks += 1
    results.put((last_allowed, checks, len(cache)))
    cache.close()
