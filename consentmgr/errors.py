"""Domain exceptions shared by every area.

Services raise these; each audience turns them into a page message or an
``application/problem+json`` response in one place. Messages are written
for the person who has to act on them and never contain personal data.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base class for errors a user or client can act on."""

    status = 400
    title = "Bad request"


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
