"""The consent check's per-process cache: its rules, then its listener on a real PostgreSQL.

The first tests drive a cache without a listener (``CheckCache(None)``):
what may be filled and when, the size bound, forks. The rest run the app's
own cache, whose listener hears the triggers of migration 0014.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any, Callable

import pytest
import sqlalchemy as sa

from consentmgr.consent import services
from consentmgr.consent.check_cache import MISS, CheckCache
from consentmgr.consent.checks import check_sources
from consentmgr.extensions import db as _db
from tests.conftest import TEST_ACTOR, postgresql_only

ROW = ("active", "given", "2026-03", None)
PURPOSE = "marketing-email"  # based on consent


def serving_cache(maxsize: int = 100) -> CheckCache:
    cache = CheckCache(None, maxsize=maxsize)
    cache.start_serving()
    return cache


def test_a_filled_row_is_served_until_its_customer_is_evicted():
    cache, customer = serving_cache(), uuid.uuid4()
    row, ticket = cache.get(customer, "analytics")
    assert row is MISS
    cache.fill(customer, "analytics", ROW, ticket)
    assert cache.get(customer, "analytics") == (ROW, None)
    cache.notified(str(customer))
    assert cache.get(customer, "analytics")[0] is MISS


def test_a_read_that_began_before_an_eviction_is_not_kept():
    cache, customer = serving_cache(), uuid.uuid4()
    _, ticket = cache.get(customer, "analytics")  # the read starts ...
    cache.notified(str(customer))  # ... a change is announced while it runs ...
    cache.fill(customer, "analytics", ROW, ticket)  # ... so what it read may be old
    assert cache.get(customer, "analytics")[0] is MISS
    assert len(cache) == 0


def test_a_read_that_began_before_everything_was_dropped_is_not_kept():
    cache, customer = serving_cache(), uuid.uuid4()
    _, ticket = cache.get(customer, "analytics")
    cache.notified("*")
    cache.fill(customer, "analytics", ROW, ticket)
    assert cache.get(customer, "analytics")[0] is MISS


def test_an_eviction_of_another_customer_spoils_no_read_of_a_different_stripe():
    cache, customer = serving_cache(), uuid.uuid4()
    other = next(c for c in iter(uuid.uuid4, None) if hash(c) % 1024 != hash(customer) % 1024)
    _, ticket = cache.get(customer, "analytics")
    cache.notified(str(other))
    cache.fill(customer, "analytics", ROW, ticket)
    assert cache.get(customer, "analytics") == (ROW, None)


def test_nothing_is_served_or_kept_while_the_listener_is_away():
    cache, customer = serving_cache(), uuid.uuid4()
    _, ticket = cache.get(customer, "analytics")
    cache.fill(customer, "analytics", ROW, ticket)
    cache.stop_serving()
    assert cache.get(customer, "analytics") == (MISS, None)
    assert len(cache) == 0
    cache.fill(customer, "analytics", ROW, ticket)
    cache.start_serving()
    assert cache.get(customer, "analytics")[0] is MISS


def test_a_listener_silent_for_too_long_serves_nothing(monkeypatch):
    from consentmgr.consent import check_cache

    cache, customer = serving_cache(), uuid.uuid4()
    _, ticket = cache.get(customer, "analytics")
    cache.fill(customer, "analytics", ROW, ticket)
    cache._alive_at = time.monotonic() - check_cache.MAX_SILENCE - 1
    assert cache.get(customer, "analytics") == (MISS, None)
    assert not cache.serving


def test_an_unreadable_notification_drops_everything():
    cache, customer = serving_cache(), uuid.uuid4()
    cache.fill(customer, "analytics", ROW, cache.get(customer, "analytics")[1])
    cache.notified("not a customer id")
    assert len(cache) == 0


def test_the_least_recently_used_customers_go_first_when_full():
    cache = serving_cache(maxsize=4)
    customers = [uuid.uuid4() for _ in range(3)]
    for customer in customers:
        for purpose in ("analytics", "marketing-email"):
            cache.fill(customer, purpose, ROW, cache.get(customer, purpose)[1])
    assert len(cache) <= 4
    assert cache.get(customers[0], "analytics")[0] is MISS
    assert cache.get(customers[2], "analytics") == (ROW, None)


def test_a_forked_child_starts_with_nothing_served():
    cache, customer = serving_cache(), uuid.uuid4()
    cache.fill(customer, "analytics", ROW, cache.get(customer, "analytics")[1])
    pid = os.fork()
    if pid == 0:  # the child: inherited rows must not be served without its own listener
        os._exit(0 if cache.get(customer, "analytics") == (MISS, None) and len(cache) == 0 else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert cache.get(customer, "analytics") == (ROW, None)  # the parent keeps its own


# ------------------------------------------------------- on PostgreSQL


def wait_until(condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll ``condition`` until it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


@pytest.fixture
def cache(app, db) -> CheckCache:
    """The app's own cache, listening."""
    found = check_sources().cache
    assert found is not None, "the cache is on by default on PostgreSQL"
    found.get(uuid.uuid4(), "analytics")  # starts the listener
    wait_until(lambda: found.serving)
    return found


@pytest.fixture
def granted(policies, create_customer):
    """A customer who consented to marketing email (policy 2026-03 in effect)."""
    customer = create_customer()
    services.grant_consent(customer, PURPOSE, actor=TEST_ACTOR, channel="api")
    _db.session.commit()
    return customer


def check(customer_id: uuid.UUID, purpose: str = PURPOSE) -> services.ConsentDecision:
    """The API's check: outside any unit of work, so through the cache."""
    _db.session.remove()
    return services.check_consent(customer_id, purpose)


def uncached(customer_id: uuid.UUID, purpose: str = PURPOSE) -> services.ConsentDecision:
    """The same check inside a unit of work: read from the database, never the cache."""
    _db.session.remove()
    with _db.session.begin():
        _db.session.execute(sa.text("SELECT 1"))
        return services.check_consent(customer_id, purpose)


def write_elsewhere(sql: str, *, announce: bool = True, **params: Any) -> None:
    """Run ``sql`` on a connection of its own (as another process would).

    ``announce=False`` runs it with triggers off (``session_replication_role =
    replica``): no notification, the change a disconnected listener would miss.
    """
    engine = sa.create_engine(_db.engine.url)
    try:
        with engine.begin() as conn:
            if not announce:
                conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
            conn.execute(sa.text(sql), params)
    finally:
        engine.dispose()


def warm(cache: CheckCache, customer_id: uuid.UUID, purpose: str = PURPOSE) -> None:
    """Check until the answer is held: a fill is refused while a notification
    (the set-up's own writes, the last test's truncate) may still be on its way."""
    wait_until(lambda: check(customer_id, purpose) and cache.get(customer_id, purpose)[0] is not MISS)


def unannounced() -> None:
    """The session's transaction runs with triggers off: no notification for what it commits."""
    _db.session.execute(sa.text("SET LOCAL session_replication_role = replica"))


@postgresql_only
def test_a_repeated_check_is_answered_from_memory(cache, granted):
    warm(cache, granted.id)
    assert check(granted.id).allowed
    # Changed behind the triggers' back: only a cached answer still says "allowed".
    write_elsewhere("UPDATE consent_states SET status = 'withdrawn' WHERE customer_id = :c",
                    announce=False, c=granted.id)
    assert check(granted.id).allowed
    assert uncached(granted.id).reason == "withdrawn"


@postgresql_only
def test_a_withdrawal_committed_elsewhere_stops_the_cached_allowed(cache, granted):
    warm(cache, granted.id)
    assert check(granted.id).allowed
    write_elsewhere("UPDATE consent_states SET status = 'withdrawn' WHERE customer_id = :c",
                    c=granted.id)
    assert wait_until(lambda: check(granted.id).reason == "withdrawn")


@postgresql_only
def test_a_withdrawal_committed_in_this_process_is_seen_at_once(cache, granted):
    warm(cache, granted.id)
    assert check(granted.id).allowed
    unannounced()  # only the committing session itself can tell the cache
    services.withdraw_consent(services.choice_subject(granted.id), PURPOSE, actor=TEST_ACTOR,
                              channel="api")
    _db.session.commit()
    assert check(granted.id).reason == "withdrawn"


@postgresql_only
def test_a_restriction_committed_in_this_process_is_seen_at_once(cache, granted):
    from consentmgr.customers.models import Customer
    from consentmgr.customers.services import restrict_processing

    warm(cache, granted.id)
    assert check(granted.id).allowed
    unannounced()
    restrict_processing(_db.session.get(Customer, granted.id), actor=TEST_ACTOR)
    _db.session.commit()
    assert check(granted.id).reason == "restricted"


@postgresql_only
@pytest.mark.parametrize("status", ["restricted", "erased"])
def test_a_status_change_elsewhere_stops_every_cached_purpose(cache, granted, status):
    warm(cache, granted.id)
    warm(cache, granted.id, "personalisation")
    assert check(granted.id).allowed
    assert check(granted.id, "personalisation").reason == "not-given"
    write_elsewhere("UPDATE customers SET status = :s WHERE id = :c", s=status, c=granted.id)
    wait_until(lambda: check(granted.id).reason == status)
    assert check(granted.id, "personalisation").reason == status


@postgresql_only
def test_a_truncate_drops_everything(cache, granted):
    warm(cache, granted.id)
    write_elsewhere("TRUNCATE consent_states")
    wait_until(lambda: len(cache) == 0)
    assert check(granted.id).reason == "not-given"


@postgresql_only
def test_a_statement_changing_many_customers_drops_everything(cache, granted, create_customer):
    others = [create_customer() for _ in range(101)]
    assert check(granted.id).allowed
    write_elsewhere(
        "INSERT INTO consent_states (customer_id, purpose, status, policy_version, notice_hash, "
        "event_id, updated_at) SELECT id, 'personalisation', 'given', '2026-03', '', "
        "gen_random_uuid(), now() FROM customers WHERE id <> :c", c=granted.id)
    assert len(others) == 101
    wait_until(lambda: len(cache) == 0)


@postgresql_only
def test_cached_answers_equal_uncached_ones_for_every_rule(cache, granted, create_customer):
    restricted, erased, objecting = (create_customer().id for _ in range(3))
    subject = services.choice_subject
    services.withdraw_consent(subject(granted.id), PURPOSE, actor=TEST_ACTOR, channel="api")
    services.grant_consent(subject(granted.id), "personalisation", actor=TEST_ACTOR, channel="api")
    services.object_to_processing(subject(objecting), "fraud-prevention", actor=TEST_ACTOR,
                                  channel="api")
    _db.session.commit()
    write_elsewhere("UPDATE customers SET status = 'restricted' WHERE id = :c", c=restricted)
    write_elsewhere("UPDATE customers SET status = 'erased' WHERE id = :c", c=erased)
    purposes = list(services.catalogue().purposes)
    for customer_id in (granted.id, restricted, erased, objecting):
        for purpose in purposes:
            check(customer_id, purpose)  # fills the cache
            assert check(customer_id, purpose) == uncached(customer_id, purpose)


@postgresql_only
def test_consent_given_under_an_older_policy_needs_renewal_from_the_cache_too(
        cache, publish, create_customer):
    publish("2025-01.md")
    customer = create_customer()
    services.grant_consent(customer, "personalisation", actor=TEST_ACTOR, channel="api")
    _db.session.commit()
    assert check(customer.id, "personalisation").allowed
    publish("2025-01.md", "2026-03.md")  # 2026-03 changes personalisation materially
    # Nothing about the customer changed: the cached row is still right, the rules say renew.
    assert check(customer.id, "personalisation").reason == "renewal-required"
    assert check(customer.id, "personalisation") == uncached(customer.id, "personalisation")


@postgresql_only
def test_the_cache_serves_nothing_while_its_triggers_are_disabled(cache, granted):
    warm(cache, granted.id)
    assert check(granted.id).allowed
    write_elsewhere("ALTER TABLE consent_states DISABLE TRIGGER consent_states_notify_check_update")
    try:
        wait_until(lambda: not cache.serving)
        assert len(cache) == 0
        write_elsewhere("UPDATE consent_states SET status = 'withdrawn' WHERE customer_id = :c",
                        c=granted.id)
        assert check(granted.id).reason == "withdrawn"
    finally:
        write_elsewhere("ALTER TABLE consent_states ENABLE TRIGGER consent_states_notify_check_update")
    wait_until(lambda: cache.serving)


@postgresql_only
def test_a_killed_listener_drops_the_cache_and_a_change_it_missed_is_never_served(cache, granted):
    warm(cache, granted.id)
    assert check(granted.id).allowed
    killed = cache.listener_pid
    write_elsewhere("SELECT pg_terminate_backend(:p)", p=killed)
    # The change the dead listener can never hear of (sent with triggers off).
    write_elsewhere("UPDATE consent_states SET status = 'withdrawn' WHERE customer_id = :c",
                    announce=False, c=granted.id)
    wait_until(lambda: cache.listener_pid != killed and cache.serving)
    assert check(granted.id).reason == "withdrawn"


@postgresql_only
def test_the_cache_can_be_turned_off(database_url, tmp_path):
    from consentmgr import create_app
    from tests.conftest import base_config

    app = create_app(base_config(database_url, str(tmp_path), CONSENTMGR_CHECK_CACHE="false"))
    with app.app_context():
        assert check_sources().cache is None


def test_sqlite_has_no_cache(app, db):
    if db.engine.dialect.name == "sqlite":
        assert check_sources().cache is None
