"""Art. 18 for API clients: a restricted record is neither read nor changed through the API.

While a customer's processing is restricted the record is only stored:
another system may not read it (``GET /customers/{id}``, the export) or
correct it (``PATCH``, an upsert by external ref). Consent checks keep
answering ``restricted``, and lookups still say which id is restricted.
"""

from __future__ import annotations

from consentmgr.customers.models import Customer, CustomerStatus
from consentmgr.errors import Conflict

PROBLEM = "restricted"


class CustomerRestricted(Conflict):
    """The customer's processing is restricted (GDPR Art. 18): no API reads or updates."""

    problem = PROBLEM

    def __init__(self) -> None:
        super().__init__(
            "Processing of this customer's data is restricted (GDPR Art. 18): the record is "
            "kept but may not be read or changed through the API until the restriction is "
            "lifted. Consent checks answer 'restricted'; do not use the data meanwhile.")


def refuse_if_restricted(customer: Customer) -> None:
    """Raise :class:`CustomerRestricted` if ``customer``'s processing is restricted."""
    if customer.status == CustomerStatus.RESTRICTED:
        raise CustomerRestricted()
