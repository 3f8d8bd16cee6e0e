"""Browser tests: Playwright driving Debian's Chromium against a live server.

Fixtures live in ``conftest.py`` (``live_server``, ``browser``, ``page``);
helpers that tests import live here::

    from tests.e2e import assert_no_axe_violations

    @pytest.mark.browser
    def test_page_is_accessible(page, live_server):
        page.goto(live_server.url + "/privacy")
        assert_no_axe_violations(page)
"""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe

CHROMIUM = "/usr/bin/chromium"
# Debian's Chromium, sandboxed by the container rather than by itself, and
# kept off the network: the only address it should reach is the live server.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

_axe = Axe()


def assert_no_axe_violations(page: Any, context: str | None = None) -> None:
    """Run axe-core on the page (or the ``context`` selector); fail with its report.

    axe runs every rule it ships except the experimental ones: WCAG 2.x A
    and AA plus best practices (one main landmark, one h1, heading order...).
    """
    results = _axe.run(page, context=context)
    assert results.violations_count == 0, f"axe on {page.url}:\n{results.generate_report()}"
