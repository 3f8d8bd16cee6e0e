"""Domain exceptions shared by every area.

Services raise these; each audience turns them into a page message or an
``application/problem+json`` response in one place. Messages are written
for the person who has to act on them and never contain personal data.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base class for errors a user or client can act on."""

    status = 400
    title = "Bad request"
    # True when the service recorded the failed attempt in the audit trail
    # before raising: the unit of work commits that entry, not the rest.
    keeps_record = False


class ValidationFailed(DomainError):
    """Input did not pass validation; ``errors`` maps field names to messages."""

    status = 422
    title = "Invalid input"

    def __init__(self, errors: dict[str, list[str]], message: str | None = None) -> None:
        self.errors = errors
        fields = ", ".join(sorted(errors))
        super().__init__(message or f"Please correct: {fields}")


class NotFound(DomainError):
    """The thing asked for does not exist (or is not visible to the caller)."""

    status = 404
    title = "Not found"


class Conflict(DomainError):
    """The change conflicts with the current state."""

    status = 409
    title = "Conflict"


def flatten_messages(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Marshmallow's nested error messages as ``{"field.sub.0": [messages]}``."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            out.update(flatten_messages(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out[prefix or "_schema"] = list(messages)
    elif isinstance(messages, list):
        for index, item in enumerate(messages):
            out.update(flatten_messages(item, f"{prefix}.{index}" if prefix else str(index)))
    else:
        out[prefix or "_schema"] = [str(messages)]
    return out

