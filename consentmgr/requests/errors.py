"""The requests area's domain errors (turned into pages or problem+json by each audience)."""

from __future__ import annotations

from consentmgr.errors import Conflict, NotFound


class RequestNotFound(NotFound):
    """No request with that id (or not this customer's)."""

    def __init__(self) -> None:
        super().__init__("No request with that id.")


class DuplicateRequest(Conflict):
    """An open request of the same kind exists (erasure, restriction): one at a time."""

    def __init__(self, type_: str) -> None:
        self.request_type = type_
        super().__init__(f"There is already an open {type_} request for this customer.")


class RequestClosed(Conflict):
    """The request is completed, refused or withdrawn: nothing more can be done with it."""

    def __init__(self, status: str) -> None:
        self.request_status = status
        super().__init__(f"This request is {status}: it can no longer be changed.")


class WrongRequestState(Conflict):
    """The action does not fit the request's type or status (e.g. approving before identity is verified)."""


class ExtensionTooLate(Conflict):
    """GDPR Art. 12(3): an extension must be told within one month of receipt."""

    def __init__(self) -> None:
        super().__init__("The first deadline has passed: the request can no longer be extended.")


class LegalHoldNotFound(NotFound):
    """No legal hold with that id."""

    def __init__(self) -> None:
        super().__init__("No legal hold with that id.")


class HoldAlreadyLifted(Conflict):
    """The legal hold was lifted before."""

    def __init__(self) -> None:
        super().__init__("This legal hold has already been lifted.")
