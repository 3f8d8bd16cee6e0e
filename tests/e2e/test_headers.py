"""The security headers in a real browser: no CSP violation on any main page, no framing,
and a signed-in browser session that leaves no token or address in the logs."""

from __future__ import annotations

import logging
from typing import Any, Iterator

import pytest
from playwright.sync_api import expect

from consentmgr.web.request_log import ACCESS_LOGGER
from tests.e2e.test_portal import demo_email, sign_in

pytestmark = pytest.mark.browser

MAIN_PAGES = ["/", "/privacy", "/privacy/versions", "/portal/sign-in", "/staff/sign-in", "/api/",
              "/no-such-page"]
# A page on another origin (served by the browser itself, nothing leaves the machine).
ATTACKER = "http://attacker.test/"

# Runs before any page script: CSP violations are reported as DOM events.
LISTEN_FOR_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


@pytest.fixture
def watched(page) -> Any:
    """The page, recording console errors and CSP violations."""
    page.add_init_script(LISTEN_FOR_VIOLATIONS)
    page.console_errors = []
    page.on("console", lambda message: message.type in ("error", "warning")
            and page.console_errors.append(message.text))
    return page


def violations(page: Any) -> list[str]:
    return page.evaluate("window.__cspViolations") + [
        text for text in page.console_errors if "Content Security Policy" in text
        or "Permissions-Policy" in text or "Permissions policy" in text]


@pytest.mark.parametrize("path", MAIN_PAGES)
def test_main_pages_break_no_part_of_the_policy(watched, live_server, path):
    watched.goto(live_server.url_for(path))
    watched.wait_for_load_state("load")

    assert violations(watched) == []
    # The stylesheet loaded (a blocked one would leave the page unstyled).
    assert watched.evaluate("document.styleSheets.length") >= 1
    assert watched.evaluate("document.styleSheets[0].cssRules.length") > 0


def test_the_signed_in_portal_breaks_no_part_of_the_policy(watched, live_server, smtp_inbox):
    sign_in(watched, live_server, smtp_inbox, demo_email(3), check=lambda: None)
    for name in ("Consents", "Correct details", "Who accessed my data", "My requests"):
        watched.get_by_role("navigation", name="Main").get_by_role(
            "link", name=name, exact=True).click()
        watched.wait_for_load_state("load")
        assert violations(watched) == [], name


def test_another_site_cannot_frame_a_page(watched, live_server):
    target = live_server.url_for("/portal/sign-in")
    watched.route(ATTACKER, lambda route: route.fulfill(
        content_type="text/html",
        body=f'<!doctype html><title>attacker</title><iframe src="{target}"></iframe>'))

    watched.goto(ATTACKER)
    watched.wait_for_load_state("load")

    frame = watched.frame_locator("iframe")
    expect(frame.get_by_role("heading", level=1)).to_have_count(0)
    [child] = [f for f in watched.frames if f is not watched.main_frame]
    assert child.url.startswith("chrome-error://")  # Chromium's "refused to connect" page
    assert "Northwind" not in child.content()


@pytest.fixture
def all_logs() -> Iterator[list[logging.LogRecord]]:
    """Every record written while the test runs: the root logger, the access log, werkzeug."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(logging.DEBUG)
    loggers = [logging.getLogger(), logging.getLogger(ACCESS_LOGGER), logging.getLogger("werkzeug")]
    root_level = loggers[0].level
    loggers[0].setLevel(logging.INFO)
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield records
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
        loggers[0].setLevel(root_level)


def test_a_browser_session_leaves_no_token_or_address_in_the_logs(page, live_server, smtp_inbox,
                                                                  all_logs):
    email = demo_email(4)
    link = sign_in(page, live_server, smtp_inbox, email, check=lambda: None)
    page.goto(live_server.url_for(f"/portal/sign-in?email={email}"))
    page.goto(link)  # used: the link-problem page

    # mail.log is the test's own SMTP server (aiosmtpd), which logs its recipients.
    text = "\n".join(record.getMessage() for record in all_logs
                     if not record.name.startswith("mail."))
    token = link.rsplit("/", 1)[1]
    assert token not in text and email not in text and email.split("@")[0] not in text
    routes = [record.getMessage() for record in all_logs if record.name == ACCESS_LOGGER]
    assert any('"route":"/portal/sign-in/<token>"' in line for line in routes)
