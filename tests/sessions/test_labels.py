"""The browser label: family and system only, never the user-agent string."""

from __future__ import annotations

import pytest

from consentmgr.sessions.labels import UNKNOWN, browser_label

AGENTS = {
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0": "Firefox on Linux",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36": "Chrome on Windows",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0": "Edge on Windows",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15": "Safari on macOS",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/18.1 Mobile/15E148 Safari/604.1": "Safari on iOS",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36": "Chrome on Android",
    # Headless Chromium (automation, the browser tests) is Chrome, not Safari.
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/156.0.0.0 Safari/537.36": "Chrome on Linux",
}


@pytest.mark.parametrize(("agent", "label"), AGENTS.items(), ids=AGENTS.values())
def test_a_browser_is_labelled_by_family_and_system(agent, label):
    assert browser_label(agent) == label


def test_the_label_carries_no_version_or_device_detail():
    label = browser_label(list(AGENTS)[-1])
    assert not any(ch.isdigit() for ch in label) and "Pixel" not in label


@pytest.mark.parametrize("agent", [None, "", "curl/8.5.0", "x" * 10_000])
def test_an_unknown_agent_gets_a_plain_label(agent):
    assert browser_label(agent) == UNKNOWN
