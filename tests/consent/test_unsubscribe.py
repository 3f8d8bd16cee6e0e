"""One-click unsubscribe: signed links per customer and purpose, and the withdrawal they make."""

from __future__ import annotations

import base64
import datetime as dt
import threading
import time
import uuid

import pytest
import sqlalchemy as sa

from consentmgr.audit.models import AuditEntry
from consentmgr.consent import services
from consentmgr.consent.models import ConsentEvent
from consentmgr.consent.receipts import issue_receipt, verify_receipt
from consentmgr.consent.unsubscribe import (
    ONE_CLICK,
    UnsubscribeLinkExpired,
    UnsubscribeLinkInvalid,
    UnsubscribeTokens,
    preview_unsubscribe,
    unsubscribe,
    unsubscribe_link,
)
from consentmgr.crypto import BlindIndexer, KeyRing, MasterKey
from consentmgr.customers.services import (
    CustomerErased,
    CustomerNotFound,
    erase_customer,
)
from consentmgr.errors import ValidationFailed
from consentmgr.runtime import runtime
from consentmgr.sql import utcnow
from tests.conftest import TEST_ACTOR, postgresql_only

PURPOSE = "marketing-email"
OLD = MasterKey("old", b"o" * 32)
NEW = MasterKey("new", b"n" * 32)


def tokens(*keys: MasterKey, days: int = 365) -> UnsubscribeTokens:
    return UnsubscribeTokens(KeyRing(keys or (NEW,)), valid_for=dt.timedelta(days=days))


def events(db) -> list[ConsentEvent]:
    return list(db.session.scalars(sa.select(ConsentEvent).order_by(ConsentEvent.occurred_at)))


@pytest.fixture
def customer(db, policies, create_customer):
    """A customer who gave consent to marketing mail."""
    customer = create_customer()
    services.grant_consent(customer, PURPOSE, actor=TEST_ACTOR, channel="api")
    db.session.commit()
    return customer


# ------------------------------------------------------------------ the token


def test_a_token_names_the_customer_and_purpose_it_was_issued_for():
    customer_id = uuid.uuid4()
    token, expires = tokens().issue(customer_id, PURPOSE)

    target = tokens().read(token)

    assert (target.customer_id, target.purpose, target.expires_at) == (customer_id, PURPOSE,
                                                                       expires)
    assert len(token) < 100


@pytest.mark.parametrize("change", [
    lambda t: t.replace("marketing-email", "marketing-sms"),  # another purpose
    lambda t: t[:10] + ("A" if t[10] != "A" else "B") + t[11:],  # another customer
    lambda t: t.replace(t.split(".")[2], str(int(t.split(".")[2]) + 86400)),  # a later expiry
    lambda t: t[:-8] + ("A" if t[-8] != "A" else "B") + t[-7:],  # another MAC
    lambda t: t.rsplit(".", 1)[0] + ".elsewhere",  # a key we do not have
    lambda t: t[:-10],  # cut short
    lambda t: "",
    lambda t: t + "\x00",
])
def test_a_changed_token_is_not_valid(change):
    token, _ = tokens().issue(uuid.uuid4(), PURPOSE)

    with pytest.raises(UnsubscribeLinkInvalid):
        tokens().read(change(token))


def test_a_token_signed_under_another_key_is_not_valid():
    token, _ = tokens(MasterKey("new", b"x" * 32)).issue(uuid.uuid4(), PURPOSE)

    with pytest.raises(UnsubscribeLinkInvalid):
        tokens(NEW).read(token)


def test_a_link_keeps_working_after_a_key_rotation_while_its_key_stays_in_the_ring():
    customer_id = uuid.uuid4()
    token, _ = tokens(OLD).issue(customer_id, PURPOSE)

    assert tokens(NEW, OLD).read(token).customer_id == customer_id
    assert tokens(NEW, OLD).issue(customer_id, PURPOSE)[0].endswith(".new")


def test_an_expired_token_is_refused_as_expired():
    past = utcnow() - dt.timedelta(days=31)
    token, expires = tokens(days=30).issue(uuid.uuid4(), PURPOSE, now=past)

    assert expires < utcnow()
    with pytest.raises(UnsubscribeLinkExpired):
        tokens().read(token)
    assert tokens().read(token, now=past).purpose == PURPOSE


def test_the_mac_is_no_blind_index_of_the_same_ring():
    # Its own HKDF label: the link's MAC key is not the key of any index.
    ring = KeyRing((NEW,))
    token, _ = tokens(NEW).issue(uuid.UUID(int=1), PURPOSE)
    mac = token.split(".")[3]

    message = token.rsplit(".", 2)[0]
    for label in ("email", "unsubscribe"):
        digest = bytes.fromhex(BlindIndexer(ring, label).compute(message).split(":")[1])
        assert base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode() != mac


# ---------------------------------------------------------------- withdrawal


def target_for(app, customer, purpose: str = PURPOSE):
    link = runtime(app).links.unsubscribe(customer.id, purpose)
    return runtime(app).links.unsubscribe_tokens.read(link.url.rsplit("/", 1)[1])


def test_unsubscribing_withdraws_the_consent_through_the_ledger_with_channel_email(
        app, db, customer):
    outcome = unsubscribe(target_for(app, customer))
    db.session.commit()

    assert outcome.event is not None
    assert services.check_consent(customer.id, PURPOSE).status == "withdrawn"
    event = events(db)[-1]
    assert (event.action, event.channel, event.actor_type, event.actor_id) == (
        "withdrawn", "email", "customer", str(customer.id))
    entry = db.session.get(AuditEntry, event.audit_entry_id)
    assert entry.action == "consent.withdrawn" and entry.details["channel"] == "email"


def test_the_withdrawal_has_a_receipt_that_verifies(app, db, customer):
    event = unsubscribe(target_for(app, customer)).event
    db.session.commit()

    claims = verify_receipt(issue_receipt(event))

    assert claims["consentReceiptID"] == str(event.id)
    assert claims["consentmgr"]["channel"] == "email"
    assert claims["consentmgr"]["action"] == "withdrawn"
    assert "Unsubscribe link" in claims["collectionMethod"]


def test_unsubscribing_twice_records_one_withdrawal(app, db, customer):
    target = target_for(app, customer)
    first = unsubscribe(target)
    db.session.commit()
    second = unsubscribe(target)
    db.session.commit()

    assert first.event is not None and second.event is None
    assert [e.action for e in events(db)] == ["granted", "withdrawn"]


@postgresql_only
def test_two_clicks_at_once_record_one_withdrawal(app, db, customer):
    # The reader's click and the mail platform's one-click POST can cross.
    target = target_for(app, customer)
    assert unsubscribe(target).event is not None  # the first: not committed yet
    outcomes = []

    def second_click() -> None:
        with app.app_context():
            outcomes.append(unsubscribe(target))
            db.session.commit()
            db.session.remove()

    thread = threading.Thread(target=second_click)
    thread.start()
    waiting = sa.text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                      "AND datname = current_database()")
    deadline = time.monotonic() + 10
    with db.engine.connect() as observer:
        while not observer.execute(waiting).scalar() and time.monotonic() < deadline:
            time.sleep(0.01)  # until the second click waits for the first one's lock
    db.session.commit()
    thread.join(timeout=10)

    assert [outcome.event for outcome in outcomes] == [None]
    assert [e.action for e in events(db)] == ["granted", "withdrawn"]


def test_without_consent_given_nothing_is_recorded(app, db, policies, create_customer):
    never = create_customer()

    outcome = unsubscribe(target_for(app, never))

    assert (outcome.event, outcome.consent_given) == (None, False)
    assert events(db) == []


def test_the_preview_changes_nothing(app, db, customer):
    outcome = preview_unsubscribe(target_for(app, customer))

    assert (outcome.title, outcome.consent_given) == ("Newsletter and offers by email", True)
    assert len(events(db)) == 1


def test_an_erased_customer_has_nothing_to_unsubscribe(app, db, customer):
    target = target_for(app, customer)
    erase_customer(customer, actor=TEST_ACTOR)
    db.session.commit()

    assert unsubscribe(target).event is None


# ------------------------------------------------------- links for other systems


def test_a_link_for_another_system_carries_the_rfc_8058_headers(app, db, customer):
    link = unsubscribe_link(customer.id, PURPOSE, links=runtime(app).links)

    assert link.url.startswith(runtime(app).settings.base_url + "/unsubscribe/")
    assert link.headers == {"List-Unsubscribe": f"<{link.url}>",
                            "List-Unsubscribe-Post": ONE_CLICK}


@pytest.mark.parametrize(("customer_id", "purpose", "error"), [
    (uuid.uuid4(), PURPOSE, CustomerNotFound),
    (None, "no-such-purpose", services.UnknownPurpose),
    (None, "account", ValidationFailed),  # a contract: there is no consent to withdraw
    (None, "support", ValidationFailed),  # legitimate interest: objected to, not unsubscribed
])
def test_no_link_for_an_unknown_customer_or_a_purpose_without_consent(
        app, customer, customer_id, purpose, error):
    with pytest.raises(error):
        unsubscribe_link(customer_id or customer.id, purpose, links=runtime(app).links)


def test_no_link_for_an_erased_customer(app, db, customer):
    erase_customer(customer, actor=TEST_ACTOR)
    db.session.commit()

    with pytest.raises(CustomerErased):
        unsubscribe_link(customer.id, PURPOSE, links=runtime(app).links)
