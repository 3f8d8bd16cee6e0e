"""Security headers on every response, and the client's real address behind a TLS proxy.

Hand-written rather than Flask-Talisman: the policy is one fixed set of
headers (the pages have no inline script or style, so no nonces are
needed), it must never overwrite a stricter value a view set itself
(``Referrer-Policy: no-referrer`` on the sign-in link page), and the
maintained Talisman fork would add a dependency for ~30 lines.

Configuration: ``TRUSTED_PROXIES`` (``CONSENTMGR_TRUSTED_PROXIES``, default
0) is the number of proxies in front of the app that set ``X-Forwarded-For``
and ``X-Forwarded-Proto``. Only that many hops are believed, so a client
cannot claim another address or scheme by sending the headers itself.
"""

from __future__ import annotations

from flask import Flask, Response, request
from werkzeug.middleware.proxy_fix import ProxyFix

from consentmgr.runtime import runtime

# No inline script or style anywhere (templates link /static/site.css only):
# an injected <script> or style attribute does not run. frame-ancestors stops
# other sites framing the consent buttons (clickjacking); base-uri and
# form-action stop an injected <base> or <form> sending data elsewhere.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))

# Powerful browser features the app never uses (features Chromium does not
# know are left out: it reports each unknown name as a console error).
PERMISSIONS_POLICY = ", ".join(f"{feature}=()" for feature in (
    "accelerometer", "autoplay", "browsing-topics", "camera", "display-capture",
    "geolocation", "gyroscope", "magnetometer", "microphone", "midi", "payment",
    "publickey-credentials-get", "usb", "xr-spatial-tracking",
))

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": PERMISSIONS_POLICY,
    "Cross-Origin-Opener-Policy": "same-origin",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate CSP 2
}

# One year; no includeSubDomains: other hosts of the company's domain are not ours to pin.
STRICT_TRANSPORT_SECURITY = "max-age=31536000"


_BY_LOWER_NAME = [(name.lower(), (name, value)) for name, value in SECURITY_HEADERS.items()]


def sends_hsts(secure: bool, production: bool) -> bool:
    """RFC 6797 §7.2: HSTS goes over secure transport only (and only in production)."""
    return secure and production


def add_security_headers(response: Response) -> Response:
    """``after_request``: the headers every response carries; a view's own value wins."""
    # One pass over what the response has, rather than a search per header
    # (``setdefault``): this runs on every consent check.
    present = {name.lower() for name, _value in response.headers}
    response.headers.extend([item for lower, item in _BY_LOWER_NAME if lower not in present])
    if sends_hsts(request.is_secure, runtime().settings.production):
        response.headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
    return response


def init_headers(app: Flask) -> None:
    """Trust ``TRUSTED_PROXIES`` proxy hops and add the security headers to every response."""
    hops = int(app.config.get("TRUSTED_PROXIES", 0))
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    app.after_request(add_security_headers)
