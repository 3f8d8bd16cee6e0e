"""Masked forms of personal values, for staff screens before a reason is given.

Pure functions: enough of a value to confirm "is this the caller?" (an
initial, the last two digits of a phone number) and no more, so a screen
shown by default discloses as little as possible (GDPR Art. 25(2), data
protection by default). ``None`` or an empty value gives :data:`NOT_RECORDED`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Mapping

from consentmgr.i18n import ngettext

DOT = "•"
HIDDEN = DOT * 3
NOT_RECORDED = "—"

_COUNTRY_CODE = re.compile(r"^\s*(\+\d{1,3})[\s.-]")
_COUNTRY_LINE = re.compile(r"^[A-Z]{2}$")


def _initial(text: str) -> str:
    return text[:1] + HIDDEN if text else HIDDEN


def mask_email(email: str | None) -> str:
    """``jane.doe@example.com`` → ``j•••@e•••.com``."""
    if not email:
        return NOT_RECORDED
    local, at, domain = email.strip().rpartition("@")
    if not at or not local or not domain:
        return HIDDEN
    label, dot, tld = domain.rpartition(".")
    if not dot:
        return f"{_initial(local)}@{_initial(domain)}"
    return f"{_initial(local)}@{_initial(label)}.{tld}"


def mask_phone(phone: str | None) -> str:
    """``+44 20 7946 0912`` → ``+44 •••• ••12``: the country code and last two digits."""
    if not phone:
        return NOT_RECORDED
    digits = re.sub(r"\D", "", phone)
    match = _COUNTRY_CODE.match(phone)
    prefix = match.group(1) + " " if match else ""
    if len(digits) < 6:  # too short to show any digit without giving most of it away
        return f"{prefix}{DOT * 4}"
    return f"{prefix}{DOT * 4} {DOT * 2}{digits[-2:]}"


def mask_name(name: str | None) -> str:
    """``Ada Lovelace`` → ``A. L.``: initials only."""
    if not name or not name.strip():
        return NOT_RECORDED
    return " ".join(f"{part[0]}." for part in name.split())


def mask_postal_address(address: str | None) -> str:
    """``Lindenstraße 5\\n10115 Berlin\\nDE`` → ``•••, B•••, DE``.

    The street and postcode are hidden; the city is reduced to its initial;
    a trailing two-letter country code is kept.
    """
    if not address or not address.strip():
        return NOT_RECORDED
    lines = [line.strip() for line in re.split(r"[\n,]", address) if line.strip()]
    country = lines.pop() if len(lines) > 1 and _COUNTRY_LINE.match(lines[-1]) else None
    words = lines[-1].split() if lines else []
    # The city is the last word on its line ("10115 Berlin", "London").
    city = next((w for w in reversed(words) if any(c.isalpha() for c in w)), "")
    parts = [HIDDEN, _initial(city)] if city else [HIDDEN]
    if country:
        parts.append(country)
    return ", ".join(parts)


def mask_date_of_birth(value: dt.date | str | None) -> str:
    """``1985-04-12`` → ``••••-04-12``: the year hidden."""
    if not value:
        return NOT_RECORDED
    day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    return f"{DOT * 4}-{day.month:02d}-{day.day:02d}"


def mask_preferences(preferences: Mapping[str, Any] | None) -> str:
    """Counts only: ``2 channels, 3 topics`` (which ones is revealed with a reason)."""
    if not preferences:
        return NOT_RECORDED
    channels = len(preferences.get("channels") or [])
    topics = len(preferences.get("topics") or [])
    return ngettext("%(num)d channel", "%(num)d channels", channels) + ", " \
        + ngettext("%(num)d topic", "%(num)d topics", topics)


def mask_text(text: str | None) -> str:
    """Free text (a history summary) is hidden entirely."""
    return HIDDEN if text else NOT_RECORDED
