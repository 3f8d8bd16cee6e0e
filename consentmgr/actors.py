"""Who performs an action: every service takes one explicitly."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """The party behind a change: a customer, a staff member, an API client or the system.

    ``id`` is an opaque identifier (a UUID or a command name), never an
    email address, so that actors can be written to the audit trail.
    """

    type: str
    id: str
    role: str | None = None
    display_name: str | None = None

    def __str__(self) -> str:
        return f"{self.type}:{self.id}"


SYSTEM = Actor("system", "system")


def cli_actor(command: str) -> Actor:
    """The actor for an operator running a CLI command."""
    return Actor("system", f"cli:{command}")
