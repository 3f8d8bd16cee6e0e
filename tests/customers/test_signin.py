"""Portal sign-in links as a service: tokens, links, failures on the record, rate-limit keys."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from consentmgr.customers import signin
from consentmgr.customers.models import PortalSignInToken
from consentmgr.customers.services import email_indexer
from consentmgr.runtime import runtime
from consentmgr.tokens import token_digest
from consentmgr.unit_of_work import unit_of_work


@pytest.fixture
def quiet_mail(monkeypatch):
    monkeypatch.setattr(signin, "send_mail_after_commit", lambda *args, **kwargs: None)


def test_the_link_is_the_portals_confirmation_page_and_only_its_digest_is_stored(
        app, db, create_customer, quiet_mail):
    customer = create_customer()

    link = signin.request_sign_in_link(customer.email)

    assert link.url == runtime(app).links.portal_sign_in(link.token)
    assert link.url == f"{runtime(app).settings.base_url}/portal/sign-in/{link.token}"
    assert db.session.scalar(sa.select(PortalSignInToken.token_hash)) == token_digest(link.token)


def test_a_bad_link_keeps_its_failed_sign_in_entry_when_the_unit_of_work_ends(db):
    with pytest.raises(signin.SignInLinkInvalid), unit_of_work():
        signin.redeem_sign_in_link("x" * 32, client_address="198.51.100.7")
    db.session.rollback()  # what was not committed would go now

    [entry] = db.session.scalars(sa.select(AuditEntry))
    assert (entry.action, entry.outcome) == (actions.PORTAL_SIGN_IN_FAILED, actions.FAILURE)
    assert entry.details == {"reason": "invalid"}


def test_the_rate_limit_key_is_the_same_for_one_address_however_typed_and_not_its_index(db):
    key = signin.rate_limit_key("Ada@Example.org ")

    assert key == signin.rate_limit_key("ada@example.org")
    assert key != signin.rate_limit_key("grace@example.org")
    assert key.startswith("portal-sign-in:") and "ada" not in key
    assert key.removeprefix("portal-sign-in:") != email_indexer().compute("ada@example.org")
