"""Changing the email address from the portal: confirmed by the new address, told to the old.

The address is where sign-in links go, so changing it hands over the
account. Someone holding a customer's session (a shared computer, a stolen
cookie) must not be able to point the links at themselves unnoticed, nor
use the form to learn who else is a customer (issue 12, finding 3). So the
portal never changes the address at once:

* :func:`request_email_change` mails a single-use link to the new address
  and a notice to the current one, and gives the same answer whether or not
  the new address belongs to another customer (that customer's address is
  then sent a notice instead of a link: no row, nothing to confirm);
* :func:`confirm_email_change`, from the link, checks the address is still
  free, changes it and its blind index, and tells the old address.

Staff and API clients (trusted callers) still change an address directly
through :func:`consentmgr.customers.services.rectify_customer`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import sqlalchemy as sa

from consentmgr.actors import Actor
from consentmgr.audit import actions as audit_actions
from consentmgr.audit import services as audit
from consentmgr.crypto import normalise_email
from consentmgr.customers.models import (
    Customer,
    CustomerStatus,
    PortalEmailChange,
    PortalSignInToken,
)
from consentmgr.customers.services import (
    CustomerErased,
    email_in_use,
    email_index_of,
    find_by_email,
    validated_email,
)
from consentmgr.customers.signin import portal_actor
from consentmgr.errors import DomainError, ValidationFailed
from consentmgr.extensions import db
from consentmgr.i18n import _, in_language, language_of
from consentmgr.mail import send_mail_after_commit
from consentmgr.runtime import of_session
from consentmgr.sql import utcnow
from consentmgr.tokens import is_link_token, issue_link_token, token_digest

__all__ = [
    "EMAIL_CHANGE_LIFETIME", "EmailChangeAddressTaken", "EmailChangeLink", "EmailChangeLinkExpired",
    "EmailChangeLinkInvalid", "EmailChangeLinkUsed", "EmailChangeProblem", "PortalEmailChange",
    "check_email_change_link", "confirm_email_change", "rate_limit_key", "request_email_change",
]

EMAIL_CHANGE_LIFETIME = dt.timedelta(hours=24)
# Used and expired links are kept a while, so a late click gets "already
# used" or "expired" rather than "not valid"; then they go.
KEEP_SPENT_CHANGES = dt.timedelta(days=1)
_HOURS = int(EMAIL_CHANGE_LIFETIME.total_seconds() // 3600)


# ------------------------------------------------------------------ errors


class EmailChangeProblem(DomainError):
    """A confirmation link cannot be used. ``reason`` is a short, data-free code.

    Confirming records ``portal.email-change-failed`` before raising, and
    the unit of work keeps that record (``keeps_record``).
    """

    reason = "invalid"
    keeps_record = True


class EmailChangeLinkInvalid(EmailChangeProblem):
    """Unknown, mistyped, tampered with, or superseded by a newer request."""

    status = 400
    title = "This link is not valid"
    reason = "invalid"

    def __init__(self) -> None:
        super().__init__("This confirmation link is not valid. It may have been copied "
                         "incompletely, or replaced by a newer request. Your email address "
                         "was not changed.")


class EmailChangeLinkExpired(EmailChangeProblem):
    """Older than :data:`EMAIL_CHANGE_LIFETIME`."""

    status = 410
    title = "This link has expired"
    reason = "expired"

    def __init__(self) -> None:
        super().__init__(f"Confirmation links work for {_HOURS} hours, and this one has expired. "
                         "Your email address was not changed; sign in and ask again.")


class EmailChangeLinkUsed(EmailChangeProblem):
    """Already used once."""

    status = 410
    title = "This link was already used"
    reason = "used"

    def __init__(self) -> None:
        super().__init__("Each confirmation link works only once, and this one was already used.")


class EmailChangeAddressTaken(EmailChangeProblem):
    """The address came to belong to another customer after the link was sent."""

    status = 409
    title = "This address cannot be used"
    reason = "unavailable"

    def __init__(self) -> None:
        # Neutral: the holder of the link learns nothing about other accounts.
        super().__init__("We could not change your email address to this one. Your address "
                         "was not changed. Sign in and try another address, or contact us.")


# ------------------------------------------------------------------ helpers


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or utcnow()


def rate_limit_key(customer: Customer) -> str:
    """A keyed hash of the customer's id, to count their email changes.

    Like the sign-in limits, the rate-limit store never holds anything that
    links a counter to a row.
    """
    indexer = of_session(db.session).indexer("portal-email-change-rate-limit")
    return "portal-email-change:" + indexer.compute(str(customer.id))


@dataclass(frozen=True)
class EmailChangeLink:
    """A confirmation link that was mailed (returned for tests; never shown on a page)."""

    url: str
    token: str
    expires_at: dt.datetime


# ------------------------------------------------------------------ asking


def request_email_change(
    customer: Customer, new_email: str, *, actor: Actor, now: dt.datetime | None = None
) -> EmailChangeLink | None:
    """Ask to change ``customer``'s address to ``new_email``; it changes only once confirmed.

    Raises :class:`~consentmgr.errors.ValidationFailed` for a malformed
    address or the customer's own. Otherwise the caller must give one
    answer, whatever this returns: the link (the address was free), or None
    (it belongs to another customer, who is sent a notice instead). Either
    way the current address is told, and only the newest request's link
    works. Flushes; the caller commits, and the mail goes after the commit.
    """
    if customer.status == CustomerStatus.ERASED:
        raise CustomerErased()
    address = validated_email((new_email or "").strip())
    current = customer.email
    if normalise_email(address) == normalise_email(current or ""):
        raise ValidationFailed({"email": ["This is already your email address."]})
    moment = _now(now)
    db.session.execute(
        sa.delete(PortalEmailChange)
        .where(sa.or_(
            sa.and_(PortalEmailChange.customer_id == customer.id,
                    PortalEmailChange.used_at.is_(None)),  # superseded by this request
            PortalEmailChange.expires_at < moment - KEEP_SPENT_CHANGES))
        .execution_options(synchronize_session=False))
    taken = email_in_use(address, exclude=customer.id)
    link = None
    # Each mail in its reader's language (GDPR Art. 12(1)): the new address is
    # the customer's, or another customer's whose own preference counts.
    if taken:
        owner = find_by_email(address)
        with in_language(language_of(owner.preferences if owner else customer.preferences)):
            _mail_address_in_use(address)
    with in_language(language_of(customer.preferences)):
        if not taken:
            link = _mail_link(customer, address, moment)
        _mail_change_requested(current)
    audit.record(audit_actions.PORTAL_EMAIL_CHANGE_REQUESTED, actor=actor, subject_id=customer.id,
                 details={"address_in_use": taken})
    return link


def _mail_link(customer: Customer, address: str, moment: dt.datetime) -> EmailChangeLink:
    issued = issue_link_token()
    expires = moment + EMAIL_CHANGE_LIFETIME
    change = PortalEmailChange(id=uuid.uuid4(), customer_id=customer.id, token_hash=issued.digest,
                               created_at=moment, expires_at=expires)
    change.new_email = address
    db.session.add(change)
    db.session.flush()
    url = of_session(db.session).links.portal_confirm_email_change(issued.token)
    send_mail_after_commit(
        address,
        _("Confirm your new email address for the privacy portal"),
        _("Hello,\n\n"
          "you asked to use this address for your account in our privacy portal.\n"
          "Open this link within %(hours)d hours and press the button on the page\n"
          "to confirm it; sign-in links then come to this address:\n\n"
          "%(link)s\n\n"
          "If you did not ask for this, ignore this message: nothing changes\n"
          "without the link.\n", hours=_HOURS, link=url),
    )
    return EmailChangeLink(url=url, token=issued.token, expires_at=expires)


def _mail_address_in_use(address: str) -> None:
    send_mail_after_commit(
        address,
        _("Someone tried to use your email address"),
        _("Hello,\n\n"
          "someone signed in to our privacy portal asked to use this email address\n"
          "for their account. It already belongs to an account with us, so nothing\n"
          "was changed, and the person who asked was not told.\n\n"
          "You do not need to do anything.\n"),
    )


def _mail_change_requested(current: str | None) -> None:
    if not current:
        return
    send_mail_after_commit(
        current,
        _("A change of your email address was requested"),
        _("Hello,\n\n"
          "someone signed in to your privacy portal asked to change the email address\n"
          "of your account. We sent a confirmation link to the new address; your\n"
          "address changes only if that link is opened within %(hours)d hours.\n\n"
          "If this was you, there is nothing more to do.\n"
          "If it was not you, someone may be able to use your account: reply to this\n"
          "message or contact our privacy team at once, so we can stop the change.\n",
          hours=_HOURS),
    )


# ------------------------------------------------------------------ confirming


def _find_usable(token: str, moment: dt.datetime) -> PortalEmailChange:
    if not is_link_token(token):
        raise EmailChangeLinkInvalid()
    row = db.session.scalar(
        sa.select(PortalEmailChange).where(PortalEmailChange.token_hash == token_digest(token)))
    if row is None:
        raise EmailChangeLinkInvalid()
    if row.used_at is not None:
        raise EmailChangeLinkUsed()
    if row.expires_at <= moment:
        raise EmailChangeLinkExpired()
    customer = db.session.get(Customer, row.customer_id)
    if customer is None or customer.status == CustomerStatus.ERASED:
        raise EmailChangeLinkInvalid()
    return row


def check_email_change_link(token: str, *, now: dt.datetime | None = None) -> None:
    """Raise the :class:`EmailChangeProblem` a link has, without using it or writing anything.

    The confirmation page calls this on GET, which mail scanners fetch too:
    only the POST that follows changes the address.
    """
    _find_usable(token, _now(now))


def confirm_email_change(
    token: str, *, client_address: str | None = None, now: dt.datetime | None = None
) -> Customer:
    """Use a confirmation link: change the address and its blind index; returns the customer.

    Raises an :class:`EmailChangeProblem` for an unknown, used or expired
    link, or when the address has since come to belong to another customer,
    after flushing a ``portal.email-change-failed`` entry (a reason code
    only) that the unit of work keeps. Using the link is a conditional
    update, so two simultaneous clicks change the address once. Sign-in
    links still open for the old address stop working, and the old address
    is told of the change. Flushes; the caller commits.
    """
    moment = _now(now)
    subject = None
    try:
        row = _find_usable(token, moment)
        subject = row.customer_id
        customer = db.session.get(Customer, row.customer_id)
        address = row.new_email
        if email_in_use(address, exclude=customer.id):
            raise EmailChangeAddressTaken()
        claimed = db.session.execute(
            sa.update(PortalEmailChange)
            .where(PortalEmailChange.id == row.id, PortalEmailChange.used_at.is_(None))
            # The address now lives in the customer's record; the row keeps none.
            .values({PortalEmailChange.used_at: moment, PortalEmailChange._new_email: None})
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed != 1:
            raise EmailChangeLinkUsed()
        old = customer.email
        try:
            # The unique blind index settles a race with another change to
            # the same address: the loser gets the neutral failure.
            with db.session.begin_nested():
                customer.email_index = email_index_of(address)
                customer.email = address
                db.session.flush()
        except sa.exc.IntegrityError:
            db.session.expire(customer)
            raise EmailChangeAddressTaken() from None
    except EmailChangeProblem as problem:
        if subject is None and not isinstance(problem, EmailChangeLinkInvalid):
            subject = db.session.scalar(sa.select(PortalEmailChange.customer_id).where(
                PortalEmailChange.token_hash == token_digest(token)))
        audit.record(audit_actions.PORTAL_EMAIL_CHANGE_FAILED, actor=Actor("anonymous", "portal"),
                     outcome=audit_actions.FAILURE, subject_id=subject,
                     client_address=client_address, details={"reason": problem.reason})
        raise
    db.session.expire(row)
    db.session.execute(
        sa.delete(PortalSignInToken)
        .where(PortalSignInToken.customer_id == customer.id, PortalSignInToken.used_at.is_(None))
        .execution_options(synchronize_session=False))
    audit.record(audit_actions.CUSTOMER_RECTIFIED, actor=portal_actor(customer),
                 subject_id=customer.id, fields=["email"], client_address=client_address,
                 details={"confirmed_by": "email-link"})
    with in_language(language_of(customer.preferences)):
        _mail_changed(old)
    return customer


def _mail_changed(old: str | None) -> None:
    if not old:
        return
    send_mail_after_commit(
        old,
        _("Your email address was changed"),
        _("Hello,\n\n"
          "the email address of your account in our privacy portal was changed, as\n"
          "confirmed from the new address. Sign-in links now go to the new address,\n"
          "and this one gets no more mail from the portal.\n\n"
          "If you did not ask for this, reply to this message or contact our\n"
          "privacy team at once.\n"),
    )
