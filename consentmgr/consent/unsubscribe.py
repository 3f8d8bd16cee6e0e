"""One-click unsubscribe (RFC 8058): a signed link per customer and purpose, and its withdrawal.

Every marketing mail carries ``List-Unsubscribe: <https://.../unsubscribe/<token>>``
and ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``; a mail platform
(Gmail, Yahoo: required of bulk senders since 2024) then POSTs
``List-Unsubscribe=One-Click`` to the link when the reader clicks its
"Unsubscribe" button, without a sign-in and without a CSRF token. The link
alone must therefore authorise exactly one thing: withdrawing one
customer's consent to one purpose.

The token is ``<customer>.<purpose>.<expires>.<mac>.<key id>``: the
customer's public id (base64url), the purpose slug, the Unix time the link
stops working, and an HMAC over the three (:mod:`consentmgr.crypto.link_signing`,
key derived with HKDF from the blind-index key ring under the label
``unsubscribe``: a rotation keeps old links working while the old key stays
in the ring). Nothing is stored per link: a link is checked, not looked up,
so mailing a million of them writes nothing.

Withdrawing goes through the consent ledger (:func:`record_choice`,
channel ``email``): an event, the state, an audit entry and the change
feed, like any other withdrawal, and a signed receipt can be issued for it.
It is idempotent: when no consent is given for the purpose (withdrawn
already, never given, expired), nothing is recorded and the answer is the
same. GDPR Art. 7(3): withdrawing is as easy as giving -- one click.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from typing import Protocol

import sqlalchemy as sa

from consentmgr.actors import Actor
from consentmgr.consent.catalogue import UnknownPurpose, purpose_info
from consentmgr.consent.ledger import (
    ChoiceSubject,
    ConsentNotApplicable,
    Evidence,
    choice_subject,
    record_choice,
)
from consentmgr.consent.models import (
    Channel,
    ConsentAction,
    ConsentEvent,
    ConsentState,
    ConsentStatus,
)
from consentmgr.crypto.keyring import KeyRing
from consentmgr.crypto.link_signing import (
    LinkSignatureInvalid,
    LinkSigner,
    decode_id,
    encode_id,
)
from consentmgr.customers.models import CustomerStatus
from consentmgr.customers.services import CustomerErased
from consentmgr.errors import DomainError, ValidationFailed
from consentmgr.extensions import db
from consentmgr.sql import utcnow

#: The HKDF label of the links' MAC key: no other MAC shares it.
LINK_LABEL = "unsubscribe"
#: How long a mailed link works (``UNSUBSCRIBE_LINK_DAYS``). US CAN-SPAM asks
#: for at least 30 days after sending; a year covers a reader's archive.
DEFAULT_VALID_DAYS = 365
#: RFC 8058 §3.1: the body a one-click POST carries, and the header announcing it.
ONE_CLICK_KEY = "List-Unsubscribe"
ONE_CLICK_VALUE = "One-Click"
ONE_CLICK = f"{ONE_CLICK_KEY}={ONE_CLICK_VALUE}"

_TOKEN = re.compile(
    r"^(?P<customer>[A-Za-z0-9_-]{22})\.(?P<purpose>[a-z0-9]+(?:-[a-z0-9]+)*)"
    r"\.(?P<expires>[0-9]{1,12})\.(?P<mac>[A-Za-z0-9_-]{22})\.(?P<key>[A-Za-z0-9._-]{1,32})$")
_MAX_TOKEN = 200


class UnsubscribeLinkInvalid(DomainError):
    """The link was altered, cut short, or not made by us: nothing is changed."""

    status = 400
    title = "This unsubscribe link is not valid"

    def __init__(self) -> None:
        super().__init__("The link is incomplete or was changed, so nothing was changed. Use the "
                         "link from the mail exactly as it is, or manage your choices in your "
                         "privacy portal.")


class UnsubscribeLinkExpired(DomainError):
    """The link is ours but too old: nothing is changed."""

    status = 410
    title = "This unsubscribe link has expired"

    def __init__(self) -> None:
        super().__init__("Unsubscribe links work for a limited time, and this one is too old, so "
                         "nothing was changed. Use the link in a more recent mail, or withdraw "
                         "your consent in your privacy portal.")


@dataclass(frozen=True)
class UnsubscribeTarget:
    """What a valid link authorises: withdrawing this customer's consent to this purpose."""

    customer_id: uuid.UUID
    purpose: str
    expires_at: dt.datetime


class UnsubscribeTokens:
    """Issues and reads the signed tokens of unsubscribe links (pure: no database)."""

    def __init__(self, keyring: KeyRing, *, valid_for: dt.timedelta | None = None) -> None:
        self._signer = LinkSigner(keyring, LINK_LABEL)
        self.valid_for = valid_for or dt.timedelta(days=DEFAULT_VALID_DAYS)

    def issue(self, customer_id: uuid.UUID, purpose: str, *, now: dt.datetime | None = None
              ) -> tuple[str, dt.datetime]:
        """A token for ``customer_id`` and ``purpose``, and when it stops working."""
        expires = int(((now or utcnow()) + self.valid_for).timestamp())
        message = f"{encode_id(customer_id.bytes)}.{purpose}.{expires}"
        key_id, mac = self._signer.sign(message)
        return f"{message}.{mac}.{key_id}", dt.datetime.fromtimestamp(expires, dt.UTC)

    def read(self, token: str, *, now: dt.datetime | None = None) -> UnsubscribeTarget:
        """The target of a token we issued; :class:`UnsubscribeLinkInvalid` or ``...Expired``.

        The signature is checked before the expiry: an altered link is
        "not valid" whatever date it claims.
        """
        found = _TOKEN.match(token) if isinstance(token, str) and len(token) <= _MAX_TOKEN else None
        if found is None:
            raise UnsubscribeLinkInvalid()
        message = f"{found['customer']}.{found['purpose']}.{found['expires']}"
        try:
            self._signer.verify(message, found["key"], found["mac"])
            customer_id = uuid.UUID(bytes=decode_id(found["customer"]))
        except (LinkSignatureInvalid, ValueError):
            raise UnsubscribeLinkInvalid() from None
        expires = dt.datetime.fromtimestamp(int(found["expires"]), dt.UTC)
        if expires <= (now or utcnow()):
            raise UnsubscribeLinkExpired()
        return UnsubscribeTarget(customer_id, found["purpose"], expires)


@dataclass(frozen=True)
class UnsubscribeLink:
    """An unsubscribe link for a mail, and the two headers (RFC 2369, RFC 8058) that carry it."""

    url: str
    expires_at: dt.datetime

    @property
    def headers(self) -> dict[str, str]:
        """``List-Unsubscribe`` and ``List-Unsubscribe-Post`` for this link."""
        return list_unsubscribe_headers(self.url)


def list_unsubscribe_headers(url: str) -> dict[str, str]:
    """The mail headers that offer one-click unsubscribe at ``url`` (RFC 8058 §3.1)."""
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": ONE_CLICK}


class UnsubscribeLinks(Protocol):
    """Builds the absolute link for a customer and purpose (``consentmgr.web.links``)."""

    def unsubscribe(self, customer_id: uuid.UUID, purpose: str, *,
                    now: dt.datetime | None = None) -> UnsubscribeLink:
        """The link (and its headers) that withdraws this customer's consent to this purpose."""


def link_actor(customer_id: uuid.UUID) -> Actor:
    """Who acts through an unsubscribe link: the customer it was mailed to (or their mail client)."""
    return Actor("customer", str(customer_id))


def unsubscribe_link(customer_id: uuid.UUID | str, purpose: str, *, links: UnsubscribeLinks,
                     now: dt.datetime | None = None) -> UnsubscribeLink:
    """The link for another system's mail to ``customer_id`` about ``purpose``.

    Raises :class:`CustomerNotFound` (unknown id), :class:`CustomerErased`,
    :class:`UnknownPurpose` (not in the policy in effect) and
    :class:`ValidationFailed` for a purpose not based on consent: there is
    nothing to unsubscribe from.
    """
    subject = choice_subject(customer_id)
    if subject.status == CustomerStatus.ERASED:
        raise CustomerErased()
    info = purpose_info(purpose, today=(now or utcnow()).date())
    if info.legal_basis != "consent":
        raise ValidationFailed({"purpose": [
            (f"“{info.title}” is based on {info.legal_basis.replace('-', ' ')}, not consent: "
             "there is no consent to unsubscribe from.")]})
    return links.unsubscribe(subject.id, info.slug, now=now)


@dataclass(frozen=True)
class UnsubscribeOutcome:
    """What following a link did (or would do): the purpose's title, and the event if recorded."""

    title: str
    consent_given: bool
    event: ConsentEvent | None = None


def _title(slug: str) -> str:
    try:
        return purpose_info(slug).title
    except UnknownPurpose:
        return slug  # dropped from the policy since the mail went out


def _given(target: UnsubscribeTarget, *, lock: bool) -> tuple[ChoiceSubject, bool]:
    subject = choice_subject(target.customer_id)
    query = sa.select(ConsentState.status).where(ConsentState.customer_id == subject.id,
                                                 ConsentState.purpose == target.purpose)
    if lock:
        # Two clicks at once (the reader's and the mail platform's): the second
        # waits for the first and then finds nothing left to withdraw.
        query = query.with_for_update()
    status = db.session.scalar(query)
    return subject, status == ConsentStatus.GIVEN and subject.status != CustomerStatus.ERASED


def preview_unsubscribe(target: UnsubscribeTarget) -> UnsubscribeOutcome:
    """What confirming would do (the GET page): changes nothing.

    Raises :class:`CustomerNotFound` when the customer does not exist.
    """
    _, given = _given(target, lock=False)
    return UnsubscribeOutcome(title=_title(target.purpose), consent_given=given)


def unsubscribe(target: UnsubscribeTarget, *, evidence: Evidence | None = None
                ) -> UnsubscribeOutcome:
    """Withdraw the consent the link names, once; nothing when none is given. Flushes.

    The event's channel is ``email``, its actor the customer. Raises
    :class:`CustomerNotFound` when the customer does not exist.
    """
    subject, given = _given(target, lock=True)
    title = _title(target.purpose)
    if not given:
        return UnsubscribeOutcome(title=title, consent_given=False)
    try:
        event = record_choice(subject, target.purpose, ConsentAction.WITHDRAWN,
                              actor=link_actor(subject.id), channel=Channel.EMAIL,
                              evidence=evidence)
    except (UnknownPurpose, ConsentNotApplicable):
        # The policy no longer asks consent for it: there is nothing left to withdraw.
        return UnsubscribeOutcome(title=title, consent_given=False)
    return UnsubscribeOutcome(title=title, consent_given=False, event=event)
