"""The cached consent check under load: how long a withdrawal can go unseen.

Checker processes (``tests/scale/checkers.py``) hammer the cached check for
a set of customers who all consented; this process withdraws each consent
in turn. For every withdrawal, any check that *started* after the
withdrawal's commit returned and still answered "allowed" is stale; the
staleness is how long after the commit the last such check started. The
figures are printed (run with ``-s``) and go into README ("Consent checks at
scale"); the assertion is a generous ceiling for a loaded CI machine.
"""

from __future__ import annotations

import multiprocessing
import statistics
import time

from consentmgr.consent import services
from consentmgr.extensions import db as _db
from tests.conftest import TEST_ACTOR, postgresql_only

CUSTOMERS = 100
CHECKER_PROCESSES = 2
PURPOSE = "marketing-email"
CEILING = 1.0  # seconds; measured in milliseconds (README)


@postgresql_only
def test_a_withdrawal_stops_cached_allowed_answers_within_the_bound(
        database_url, tmp_path, publish_policy_files, create_customer):
    from tests.scale.checkers import hammer

    publish_policy_files()
    customer_ids = []
    for _ in range(CUSTOMERS):
        customer = create_customer()
        services.grant_consent(customer, PURPOSE, actor=TEST_ACTOR, channel="api")
        customer_ids.append(customer.id)
    _db.session.commit()

    spawn = multiprocessing.get_context("spawn")
    stop, results = spawn.Event(), spawn.Queue()
    readies = [spawn.Event() for _ in range(CHECKER_PROCESSES)]
    checkers = [spawn.Process(target=hammer, args=(database_url, str(tmp_path / f"c{i}"),
                                                   customer_ids, PURPOSE, ready, stop, results))
                for i, ready in enumerate(readies)]
    for process in checkers:
        process.start()
    try:
        for ready in readies:
            assert ready.wait(60), "a checker did not start"
        committed = {}
        started = time.monotonic()
        for customer_id in customer_ids:
            services.withdraw_consent(services.choice_subject(customer_id), PURPOSE,
                                      actor=TEST_ACTOR, channel="api")
            _db.session.commit()
            committed[customer_id] = time.monotonic()
        writing = time.monotonic() - started
        time.sleep(0.5)  # let the checkers go round every customer again after the last write
        stop.set()
        seen = [results.get(timeout=60) for _ in checkers]
    finally:
        stop.set()
        for process in checkers:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()

    staleness = sorted(
        max(0.0, max((last.get(c, 0.0) for last, _, _ in seen), default=0.0) - committed[c])
        for c in customer_ids)
    checks = sum(n for _, n, _ in seen)
    print(f"\n{CUSTOMERS} withdrawals in {writing:.2f} s while {CHECKER_PROCESSES} processes "
          f"made {checks} checks; stale answers after commit: "
          f"{sum(1 for s in staleness if s > 0)} customers; staleness p50 "
          f"{statistics.median(staleness) * 1000:.2f} ms, p99 "
          f"{staleness[int(len(staleness) * 0.99) - 1] * 1000:.2f} ms, "
          f"max {staleness[-1] * 1000:.2f} ms")
    assert checks > CUSTOMERS * CHECKER_PROCESSES * 2, "the checkers did not run under load"
    assert staleness[-1] < CEILING
    for last_allowed, _, _ in seen:  # and in the end, nobody is allowed any more
        assert all(last_allowed.get(c, 0.0) < committed[c] + CEILING for c in customer_ids)
