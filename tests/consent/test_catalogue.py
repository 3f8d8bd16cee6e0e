"""The catalogue of purposes in effect: built from the published policies, cached per app."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from consentmgr.consent.catalogue import (
    CACHE_NAME,
    NoPolicyPublished,
    UnknownPurpose,
    catalogue,
    forget_catalogues,
    purpose_info,
)
from consentmgr.runtime import runtime

TODAY = dt.date(2026, 12, 1)


def _cached(app, day=TODAY):
    return runtime(app).cache(CACHE_NAME).get(day)


def test_the_newest_version_in_effect_defines_the_purposes(db, policies):
    current = catalogue(TODAY)
    assert current.version == "2026-03"
    assert set(current.effective_dates) == {"2025-01", "2026-03"}
    assert purpose_info("marketing-email", today=TODAY).version == "2026-03"
    with pytest.raises(UnknownPurpose):
        purpose_info("mind-reading", today=TODAY)


def test_a_day_before_any_policy_has_no_catalogue(db, policies):
    with pytest.raises(NoPolicyPublished):
        catalogue(dt.date(2000, 1, 1))


def test_the_catalogue_is_kept_in_the_apps_shared_cache_by_day(app, db, policies):
    built = catalogue(TODAY)
    assert _cached(app) is built
    assert catalogue(TODAY) is built


def test_publishing_a_policy_drops_the_cached_catalogues(app, db, publish):
    publish("2025-01.md")
    assert catalogue(TODAY).version == "2025-01"
    publish("2025-01.md", "2026-03.md")
    assert _cached(app) is None
    assert catalogue(TODAY).version == "2026-03"


def test_forget_catalogues_empties_the_current_apps_cache(app, db, policies):
    catalogue(TODAY)
    forget_catalogues()
    assert _cached(app) is None


def test_forget_catalogues_of_a_named_app_works_outside_its_context(app, db, policies):
    catalogue(TODAY)
    # A new thread has no app context (as the test harness between tests).
    thread = threading.Thread(target=forget_catalogues, args=(app,))
    thread.start()
    thread.join()
    assert _cached(app) is None
