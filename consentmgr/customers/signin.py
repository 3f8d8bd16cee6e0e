"""Passwordless sign-in to the privacy portal: single-use links sent by email.

A link carries a random token; the database keeps only its SHA-256, so a
copy of the database (or a backup) cannot be turned into working links. A
link works once, for :data:`LINK_LIFETIME`. Asking for a link never reveals
whether an address belongs to a customer: the answer, what is logged, and
the work done are the same either way (see :func:`request_sign_in_link`).
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
from consentmgr.customers.models import Customer, CustomerStatus, PortalSignInToken
from consentmgr.customers.services import find_by_email
from consentmgr.errors import DomainError
from consentmgr.extensions import db
from consentmgr.i18n import _
from consentmgr.keys.services import key_cache
from consentmgr.mail import send_mail_after_commit
from consentmgr.runtime import of_session
from consentmgr.sql import utcnow
from consentmgr.tokens import is_link_token, issue_link_token, token_digest

__all__ = [
    "KEEP_SPENT_TOKENS", "LINK_LIFETIME", "PortalSignInToken", "SignInLink", "SignInLinkExpired",
    "SignInLinkInvalid", "SignInLinkProblem", "SignInLinkUsed", "check_sign_in_link",
    "portal_actor", "purge_spent_tokens", "rate_limit_key", "redeem_sign_in_link",
    "request_sign_in_link",
]

LINK_LIFETIME = dt.timedelta(minutes=15)
# Spent and expired tokens are kept a while so a late click still gets
# "already used" or "expired" rather than "not valid"; then they go.
KEEP_SPENT_TOKENS = dt.timedelta(days=1)


# ------------------------------------------------------------------ errors


class SignInLinkProblem(DomainError):
    """A sign-in link cannot be used. ``reason`` is a short, data-free code.

    Redeeming a bad link records ``portal.sign-in-failed`` before raising,
    and the unit of work keeps that record (``keeps_record``).
    """

    reason = "invalid"
    keeps_record = True


class SignInLinkInvalid(SignInLinkProblem):
    """Unknown, mistyped or tampered with."""

    status = 400
    title = "This link is not valid"
    reason = "invalid"

    def __init__(self) -> None:
        super().__init__("This sign-in link is not valid. It may have been copied incompletely. "
                         "Request a new one.")


class SignInLinkExpired(SignInLinkProblem):
    """Older than :data:`LINK_LIFETIME`."""

    status = 410
    title = "This link has expired"
    reason = "expired"

    def __init__(self) -> None:
        minutes = int(LINK_LIFETIME.total_seconds() // 60)
        super().__init__(f"Sign-in links work for {minutes} minutes, and this one has expired. "
                         "Request a new one.")


class SignInLinkUsed(SignInLinkProblem):
    """Already used to sign in once."""

    status = 410
    title = "This link was already used"
    reason = "used"

    def __init__(self) -> None:
        super().__init__("Each sign-in link works only once, and this one was already used. "
                         "Request a new one.")


# ------------------------------------------------------------------ helpers


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or utcnow()


def portal_actor(customer: Customer) -> Actor:
    """The actor for a customer acting for themselves in the portal."""
    return Actor("customer", str(customer.id))


def rate_limit_key(email: str) -> str:
    """A keyed hash of the normalised address, to count sign-in requests per address.

    The rate-limit store (memory or Redis) must not hold addresses, and must
    not hold the email blind index either (that would link counters to rows),
    so the key is an HMAC under its own derived key.
    """
    indexer = of_session(db.session).indexer("portal-sign-in-rate-limit")
    return "portal-sign-in:" + indexer.compute(normalise_email(email or ""))


# ------------------------------------------------------------------ services


@dataclass(frozen=True)
class SignInLink:
    """A link that was mailed (returned for tests and the CLI; never shown on a page)."""

    url: str
    token: str
    expires_at: dt.datetime


def purge_spent_tokens(*, now: dt.datetime | None = None) -> int:
    """Delete sign-in tokens (and decoys) expired longer than :data:`KEEP_SPENT_TOKENS`; how many."""
    result = db.session.execute(
        sa.delete(PortalSignInToken)
        .where(PortalSignInToken.expires_at < _now(now) - KEEP_SPENT_TOKENS)
        .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)


def request_sign_in_link(email: str, *, now: dt.datetime | None = None) -> SignInLink | None:
    """Mail a single-use sign-in link if ``email`` belongs to a customer who can sign in.

    Returns the link, or None when no link was made. Callers must answer the
    same either way: whether an address is known is personal data in itself.

    The work is the same either way too, so its timing tells nothing
    (issue 12, finding 2): one lookup, one data-key lookup, the purge of
    expired tokens, one token row written (for an unknown or erased address
    a decoy with no customer, whose token is thrown away), one link built
    and one message composed and queued. For an unknown address the message
    is queued undeliverable (``deliver=False``): the worker rehearses the
    SMTP conversation and drops it, so no mail ever goes to an address that
    is no customer's. Both are sealed in the outbox, so the stored row does
    not tell them apart either.

    The mail is queued in the caller's transaction and sent by the worker
    after the commit, so the answer does not wait for the mail server either
    (see consentmgr.mail); a mail failure is logged without the address.
    Flushes; the caller commits.
    """
    customer = find_by_email(email)
    if customer is not None and customer.status == CustomerStatus.ERASED:
        customer = None
    moment = _now(now)
    # Everyone's expired tokens (and decoys), not only this customer's: the
    # statement must not depend on whether the address is known.
    purge_spent_tokens(now=moment)
    issued = issue_link_token()
    expires = moment + LINK_LIFETIME
    db.session.add(PortalSignInToken(id=uuid.uuid4(),
                                     customer_id=customer.id if customer else None,
                                     token_hash=issued.digest, created_at=moment,
                                     expires_at=expires))
    db.session.flush()
    url = of_session(db.session).links.portal_sign_in(issued.token)
    minutes = int(LINK_LIFETIME.total_seconds() // 60)
    # The link goes to the address we hold, never the one typed: an address
    # that only normalises to a customer's (case, compatibility characters)
    # may reach another mailbox. Decrypting it looks up the customer's data
    # key; an unknown address makes the same lookup for nobody.
    recipient = customer.email if customer else _look_up_no_key(email)
    # Written in the language of the page the link was asked on (the reader is
    # there now), not the customer's stored one: an unknown address's message
    # must be composed the same way, and its sealed size must not differ.
    send_mail_after_commit(
        recipient,
        _("Your sign-in link for the privacy portal"),
        _("Hello,\n\n"
          "use this link to sign in to your privacy portal.\n"
          "It works once, for %(minutes)d minutes:\n\n%(link)s\n\n"
          "If you did not ask for it, you can ignore this message:\n"
          "nobody can sign in without the link.\n", minutes=minutes, link=url),
        deliver=customer is not None,
    )
    if customer is None:
        return None
    return SignInLink(url=url, token=issued.token, expires_at=expires)


def _look_up_no_key(email: str) -> str:
    """The data-key lookup a known address makes to decrypt itself, for an owner that has none."""
    key_cache(db.session).cipher_for_read(uuid.uuid4(), 1)
    return email


def _find_usable(token: str, moment: dt.datetime) -> PortalSignInToken:
    if not is_link_token(token):
        raise SignInLinkInvalid()
    row = db.session.scalar(
        sa.select(PortalSignInToken).where(PortalSignInToken.token_hash == token_digest(token)))
    if row is None or row.customer_id is None:  # unknown, or a decoy (its token was never mailed)
        raise SignInLinkInvalid()
    if row.used_at is not None:
        raise SignInLinkUsed()
    if row.expires_at <= moment:
        raise SignInLinkExpired()
    customer = db.session.get(Customer, row.customer_id)
    if customer is None or customer.status == CustomerStatus.ERASED:
        raise SignInLinkInvalid()
    return row


def check_sign_in_link(token: str, *, now: dt.datetime | None = None) -> None:
    """Raise the :class:`SignInLinkProblem` a link has, without using it or writing anything.

    The confirmation page calls this on GET, which mail scanners fetch too:
    only the POST that follows signs in (see :func:`redeem_sign_in_link`).
    """
    _find_usable(token, _now(now))


def redeem_sign_in_link(
    token: str, *, client_address: str | None = None, now: dt.datetime | None = None
) -> Customer:
    """Use a link: mark it used and audit the sign-in; returns the customer.

    Raises a :class:`SignInLinkProblem` for an unknown, tampered, expired or
    used link, after flushing a ``portal.sign-in-failed`` audit entry (ids
    and a reason code only) that the unit of work keeps. Marking the link
    used is a conditional update, so two simultaneous clicks sign in once.
    """
    moment = _now(now)
    try:
        row = _find_usable(token, moment)
        claimed = db.session.execute(
            sa.update(PortalSignInToken)
            .where(PortalSignInToken.id == row.id, PortalSignInToken.used_at.is_(None))
            .values(used_at=moment)
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed != 1:
            raise SignInLinkUsed()
    except SignInLinkProblem as problem:
        subject = None
        if not isinstance(problem, SignInLinkInvalid):
            subject = db.session.scalar(sa.select(PortalSignInToken.customer_id).where(
                PortalSignInToken.token_hash == token_digest(token)))
        audit.record(audit_actions.PORTAL_SIGN_IN_FAILED, actor=Actor("anonymous", "portal"),
                     outcome=audit_actions.FAILURE, subject_id=subject,
                     client_address=client_address, details={"reason": problem.reason})
        raise
    db.session.expire(row)
    customer = db.session.get(Customer, row.customer_id)
    audit.record(audit_actions.PORTAL_SIGN_IN, actor=portal_actor(customer),
                 subject_id=customer.id, client_address=client_address)
    return customer
