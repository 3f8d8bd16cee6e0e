"""The web's paths, given to the services as :class:`consentmgr.runtime.Links`.

Built once the blueprints are registered, from the app's own URL map, so a
path changes in one place (its route) and mails and receipts follow.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import MapAdapter


class WebLinks:
    """Absolute URLs on the configured public base URL (``CONSENTMGR_BASE_URL``)."""

    def __init__(self, base_url: str, adapter: MapAdapter) -> None:
        self._base_url = base_url
        self._adapter = adapter

    def _url(self, endpoint: str, **values: str) -> str:
        return self._base_url + self._adapter.build(endpoint, values)

    def portal_sign_in(self, token: str) -> str:
        """The confirmation page of a mailed sign-in link."""
        return self._url("portal.confirm_sign_in", token=token)

    def portal_confirm_email_change(self, token: str) -> str:
        """The confirmation page of a link mailed to a new email address."""
        return self._url("portal.confirm_email_change", token=token)

    def staff_set_password(self, token: str) -> str:
        """The page of a one-time password link."""
        return self._url("staff.set_password", token=token)

    def policy(self, version: str) -> str:
        """One published policy version."""
        return self._url("public.policy_version", version=version)

    def home(self) -> str:
        """The controller's public site: the base URL itself."""
        return self._base_url


def web_links(app: Flask, base_url: str) -> WebLinks:
    """Links for ``app`` once its blueprints are registered."""
    return WebLinks(base_url, app.url_map.bind("localhost", script_name="/"))
