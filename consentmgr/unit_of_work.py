"""The one transaction boundary: every view, API operation and command commits here.

Services validate, change, write their audit entry and ``flush()``; they
never commit. The boundary around them — a view, an API operation, a CLI
command, a worker job — opens one unit of work, so a change and its audit
entry commit or roll back together (GDPR Art. 5(2): the record of an action
is never lost while the action stands, nor kept for an action undone).

Two shapes of the same rule:

* ``with unit_of_work():`` commits when the block ends normally and rolls
  back when it raises.
* ``@transactional`` wraps a view: it commits when the response is a
  success or a redirect (status < 400) and rolls back otherwise.

Some failures must stay on the record: a refused reveal, a failed sign-in
(see :attr:`consentmgr.errors.DomainError.keeps_record`). Their services
write the audit entry and then raise; the unit of work commits that entry
before the error goes on to the caller.
"""

from __future__ import annotations

from contextlib import contextmanager
from functools import wraps
from typing import Any, Callable, Iterator, TypeVar

from flask import current_app
from sqlalchemy.orm import Session

from consentmgr.extensions import db

F = TypeVar("F", bound=Callable[..., Any])


def _keeps_record(error: BaseException) -> bool:
    return bool(getattr(error, "keeps_record", False))


def commit(session: Session | None = None) -> None:
    """Commit the current unit of work (the one place that does)."""
    (session or db.session).commit()


def rollback(session: Session | None = None) -> None:
    """Undo the current unit of work."""
    (session or db.session).rollback()


@contextmanager
def unit_of_work(session: Session | None = None) -> Iterator[Session]:
    """Commit the block's changes once, or none of them.

    An error whose ``keeps_record`` is true commits what was written before
    it (its audit entry) and is raised again; any other error rolls back.
    """
    session = session or db.session
    try:
        yield session
    except BaseException as error:
        if _keeps_record(error):
            commit(session)
        else:
            rollback(session)
        raise
    commit(session)


def finish(status_code: int, session: Session | None = None) -> None:
    """End a view's unit of work by its answer: commit below 400, roll back from 400."""
    if status_code < 400:
        commit(session)
    else:
        rollback(session)


def transactional(view: F) -> F:
    """Run ``view`` as one unit of work, ended by its response's status (see :func:`finish`)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _rollback_on_error():
            response = current_app.make_response(view(*args, **kwargs))
            finish(response.status_code)
        return response

    return wrapper  # type: ignore[return-value]


@contextmanager
def _rollback_on_error() -> Iterator[None]:
    try:
        yield
    except BaseException as error:
        if _keeps_record(error):
            commit()
        else:
            rollback()
        raise
