"""The web's paths, given to the services as :class:`consentmgr.runtime.Links`.

Built once the blueprints are registered, from the app's own URL map, so a
path changes in one place (its route) and mails and receipts follow.
"""

from __future__ import annotations

import datetime as dt
import uuid

from flask import Flask
from werkzeug.routing import MapAdapter

from consentmgr.consent.unsubscribe import (
    DEFAULT_VALID_DAYS,
    UnsubscribeLink,
    UnsubscribeTokens,
)
from consentmgr.runtime import runtime


class WebLinks:
    """Absolute URLs on the configured public base URL (``CONSENTMGR_BASE_URL``)."""

    def __init__(self, base_url: str, adapter: MapAdapter,
                 unsubscribe_tokens: UnsubscribeTokens | None = None) -> None:
        self._base_url = base_url
        self._adapter = adapter
        #: Signs and reads the tokens of unsubscribe links (the page reads them back).
        self.unsubscribe_tokens = unsubscribe_tokens

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

    def policy_compare(self, old: str, new: str) -> str:
        """The side-by-side comparison of two published versions."""
        return self._url("public.policy_compare", **{"from": old, "to": new})

    def unsubscribe(self, customer_id: uuid.UUID, purpose: str, *,
                    now: dt.datetime | None = None) -> UnsubscribeLink:
        """The signed one-click unsubscribe link for a customer and purpose (RFC 8058)."""
        if self.unsubscribe_tokens is None:
            raise RuntimeError("these links were built without unsubscribe tokens")
        token, expires = self.unsubscribe_tokens.issue(customer_id, purpose, now=now)
        return UnsubscribeLink(self._url("public.unsubscribe_link", token=token), expires)


def web_links(app: Flask, base_url: str) -> WebLinks:
    """Links for ``app`` once its blueprints are registered.

    Unsubscribe links are signed under the blind-index key ring (its own HKDF
    label) and work for ``UNSUBSCRIBE_LINK_DAYS`` days.
    """
    days = int(app.config.get("UNSUBSCRIBE_LINK_DAYS", DEFAULT_VALID_DAYS))
    tokens = UnsubscribeTokens(runtime(app).settings.blind_index_keys,
                               valid_for=dt.timedelta(days=days))
    return WebLinks(base_url, app.url_map.bind("localhost", script_name="/"), tokens)
