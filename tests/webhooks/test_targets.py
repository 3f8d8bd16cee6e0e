"""SSRF: webhook URLs must be http(s) and resolve to public addresses only."""

from __future__ import annotations

import pytest

from consentmgr.webhooks.targets import ForbiddenTarget, check_url


def _resolving_to(*addresses: str):
    return lambda host, port: list(addresses)


@pytest.mark.parametrize("address, reason", [
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("10.1.2.3", "private"),
    ("192.168.0.10", "private"), ("172.16.5.4", "private"), ("169.254.169.254", "link-local"),
    ("fe80::1", "link-local"), ("224.0.0.1", "multicast"), ("0.0.0.0", "unspecified"),
    ("::ffff:127.0.0.1", "loopback"), ("fd00::1", "private"), ("100.64.0.1", "not public"),
])
def test_a_host_resolving_to_a_non_public_address_is_refused(address, reason):
    with pytest.raises(ForbiddenTarget) as refused:
        check_url("https://hooks.example.com/in", allow_private=False,
                  resolve=_resolving_to(address))
    assert reason in str(refused.value) and refused.value.errors["url"]


def test_one_forbidden_answer_among_public_ones_is_enough_to_refuse():
    with pytest.raises(ForbiddenTarget):
        check_url("https://hooks.example.com/in", allow_private=False,
                  resolve=_resolving_to("93.184.216.34", "10.0.0.1"))


def test_a_public_address_is_allowed_and_is_the_one_connected_to():
    target = check_url("https://hooks.example.com:8443/in?x=1", allow_private=False,
                       resolve=_resolving_to("93.184.216.34"))
    assert (target.address, target.port, target.path) == ("93.184.216.34", 8443, "/in?x=1")
    assert target.host_header == "hooks.example.com:8443"


def test_the_operator_may_allow_private_addresses():
    target = check_url("http://127.0.0.1:9000/", allow_private=True)
    assert target.address == "127.0.0.1"


@pytest.mark.parametrize("url, words", [
    ("ftp://hooks.example.com/in", "https://"),
    ("file:///etc/passwd", "https://"),
    ("javascript:alert(1)", "https://"),
    ("https://" + "a" * 1990 + ".example.com/", "too long"),
    ("https://user:pw@hooks.example.com/", "user name or password"),
    ("https:///no-host", "no host"),
    ("https://hooks.example.com:99999/", "port"),
    ("https://hooks.example.com/a b", "spaces"),
    ("https://hooks.example.com/straße", "ASCII"),
    ("", "Give the URL"),
])
def test_a_malformed_url_is_refused_by_name(url, words):
    with pytest.raises(ForbiddenTarget) as refused:
        check_url(url, allow_private=True, resolve=_resolving_to("93.184.216.34"))
    assert words in str(refused.value)


def test_a_host_that_does_not_resolve_is_refused():
    with pytest.raises(ForbiddenTarget, match="does not resolve"):
        check_url("https://nowhere.invalid/", allow_private=False, resolve=_resolving_to())
