"""What a worker can run: job handlers by kind, and periodic schedules.

The registry is filled at the boundary that runs the worker
(``consentmgr/cli/worker.py``), not here: handlers call into other areas,
and the jobs area stays below all of them so any area may enqueue.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

# A handler runs inside the job's unit of work (the app context's session);
# it flushes, never commits, and raises to fail the attempt.
Handler = Callable[[Mapping[str, Any]], None]


class UnknownJobKind(LookupError):
    """A job's kind has no handler in this worker."""


@dataclass(frozen=True)
class Schedule:
    """A job kind run every ``every``, at most once per interval across all workers."""

    name: str
    every: dt.timedelta


@dataclass
class Registry:
    """Handlers by job kind, and the schedules that enqueue some of them."""

    handlers: dict[str, Handler] = field(default_factory=dict)
    schedules: dict[str, Schedule] = field(default_factory=dict)

    def job(self, kind: str, handler: Handler) -> None:
        """Run ``handler`` for jobs of ``kind``."""
        if kind in self.handlers:
            raise ValueError(f"job kind {kind!r} is registered twice")
        self.handlers[kind] = handler

    def every(self, name: str, every: dt.timedelta, handler: Handler) -> None:
        """Run ``handler`` as job kind ``name`` once every ``every``."""
        self.job(name, handler)
        self.schedules[name] = Schedule(name, every)

    def handler_for(self, kind: str) -> Handler:
        """The handler of ``kind``; :class:`UnknownJobKind` when there is none."""
        try:
            return self.handlers[kind]
        except KeyError:
            raise UnknownJobKind(kind) from None
