"""What API clients left that names a customer, forgotten when the customer is erased.

Called by the erasure (``consentmgr.requests.erasure``) in its unit of work,
before the customer's data key is destroyed (GDPR Art. 17): the clients'
references to the customer go, and the stored idempotent answers about them
lose their body and Location. Those records stay until they expire (24
hours) so that a retry of a request already done is not done again -- it
would recreate what was just erased; it is answered that the customer was
erased instead (:class:`~consentmgr.apiclients.idempotency.AnswerErased`).
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from consentmgr.apiclients.models import ExternalRef, IdempotencyRecord
from consentmgr.extensions import db


def forget_customer(customer_id: uuid.UUID) -> None:
    """Delete the clients' references to the customer and clear answers about them.

    Both are encrypted under the customer's key, which the erasure destroys
    next; removing them as well leaves not even ciphertext behind.
    """
    quick = {"synchronize_session": False}
    db.session.execute(sa.delete(ExternalRef).where(ExternalRef.customer_id == customer_id),
                       execution_options=quick)
    db.session.execute(sa.update(IdempotencyRecord)
                       .where(IdempotencyRecord.customer_id == customer_id)
                       .values(_response_body=None, location=None), execution_options=quick)
