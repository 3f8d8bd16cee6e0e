"""Where a webhook may be sent: an http(s) URL whose host resolves to public addresses only.

A webhook makes this server send a request to an address a client chose:
without a check, a client could make it reach the database, the metadata
service of the cloud it runs in (169.254.169.254) or anything else on the
private network (server-side request forgery, OWASP A10:2021). So every
address the host resolves to must be a global unicast address: private,
loopback, link-local, multicast, reserved, unspecified and shared (CGNAT)
ranges are refused, and IPv4-mapped IPv6 addresses are judged as the IPv4
address they carry. The check runs at registration and again before every
attempt (DNS answers change), and the connection then goes to the very
address that was checked, so a second DNS answer cannot slip in between
(:mod:`.delivery`). An operator may allow private addresses
(``CONSENTMGR_WEBHOOKS_ALLOW_PRIVATE``), e.g. for receivers on the same
network; the tests allow them to reach a receiver on 127.0.0.1.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from consentmgr.errors import ValidationFailed
from consentmgr.webhooks.models import MAX_URL

Resolver = Callable[[str, int], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class ForbiddenTarget(ValidationFailed):
    """A webhook URL that may not be used (see the message, which names the problem)."""

    def __init__(self, message: str) -> None:
        super().__init__({"url": [message]}, message)


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (an address already checked) and what to ask for."""

    scheme: str
    host: str
    port: int
    address: str
    path: str  # path and query, as sent in the request line

    @property
    def host_header(self) -> str:
        """The ``Host`` header: the name, and the port when it is not the scheme's default."""
        default = 443 if self.scheme == "https" else 80
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == default else f"{name}:{self.port}"


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (IPv4 and IPv6), as text."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def forbidden_reason(address: IPAddress) -> str | None:
    """Why ``address`` may not be a webhook target, or None for a public address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for test, name in ((address.is_loopback, "loopback"), (address.is_link_local, "link-local"),
                       (address.is_multicast, "multicast"), (address.is_unspecified, "unspecified"),
                       (address.is_private, "private"), (address.is_reserved, "reserved")):
        if test:
            return name
    if not address.is_global:
        return "not public"
    return None


def _parts(url: object) -> SplitResult:
    if not isinstance(url, str) or not url.strip():
        raise ForbiddenTarget("Give the URL the webhooks are sent to.")
    if len(url) > MAX_URL:
        raise ForbiddenTarget(f"The URL is too long: at most {MAX_URL} characters.")
    if not url.isprintable() or any(c.isspace() for c in url):
        raise ForbiddenTarget("The URL contains spaces or characters that cannot be sent.")
    if not url.isascii():
        # An HTTP request line is ASCII: the receiver's address must be written so.
        raise ForbiddenTarget("The URL must be ASCII: write an international host name in "
                              "punycode (xn--...) and percent-encode the path.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises for a port that is not a number in range
    except ValueError:
        raise ForbiddenTarget("The URL is not well formed (check the port).") from None
    if parts.scheme not in ("http", "https"):
        raise ForbiddenTarget("The URL must start with https:// (or http://).")
    if not parts.hostname:
        raise ForbiddenTarget("The URL has no host name.")
    if parts.username is not None or parts.password is not None:
        # A password in the URL would sit in the database and in every log of the receiver.
        raise ForbiddenTarget("The URL must not carry a user name or password; the signature "
                              "authenticates the sender.")
    if parts.fragment:
        raise ForbiddenTarget("The URL must not have a #fragment.")
    return parts


def check_url(url: object, *, allow_private: bool,
              resolve: Resolver = system_resolver) -> Target:
    """The target for ``url``, or :class:`ForbiddenTarget` naming what is wrong with it.

    Resolves the host: a name that does not resolve is refused, and so is
    one with any forbidden address among its answers (unless
    ``allow_private``).
    """
    parts = _parts(url)
    scheme = parts.scheme
    host = parts.hostname or ""
    port = parts.port or (443 if scheme == "https" else 80)
    addresses = resolve(host, port)
    if not addresses:
        raise ForbiddenTarget("The URL's host name does not resolve to any address.")
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        reason = forbidden_reason(address)
        if reason is not None and not allow_private:
            raise ForbiddenTarget(
                f"The URL's host resolves to a {reason} address ({address}); webhooks go to "
                "public addresses only.")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme=scheme, host=host, port=port, address=addresses[0], path=path)
