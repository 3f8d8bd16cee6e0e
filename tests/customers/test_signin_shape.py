"""Asking for a sign-in link does the same work for every address (issue 12, finding 2).

Whether an address belongs to a customer is personal data in itself. A
request for a customer's address and one for any other address run the same
statements, write the same rows and queue the same (sealed) mail; only the
customer's message is ever delivered, by the worker.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
import time_machine

from consentmgr.customers import signin
from consentmgr.customers.models import PortalSignInToken
from consentmgr.customers.services import create_customer, erase_customer
from consentmgr.mail import OutboxMessage, queued_mail
from consentmgr.unit_of_work import unit_of_work
from tests.conftest import TEST_ACTOR
from tests.fixtures.smtp import deliver_mail

_TOKEN = re.compile(r"/portal/sign-in/[A-Za-z0-9_-]+")


@dataclass
class Shape:
    """What one request for a link did, without the values."""

    statements: list[tuple[str, int]]  # SQL text (no parameters) and rows it wrote
    rows_added: dict[str, int]  # per table
    mail: list[tuple[str, str]]  # Subject, body with the token blanked
    delivered: list[bool]
    sealed: list[tuple[int, int, int]]  # the outbox row as stored: sizes of its three values


def _row_counts(db) -> dict[str, int]:
    counts = {}
    for metadata in db.metadatas.values():
        for table in metadata.sorted_tables:
            bind = db.session.get_bind(clause=table)
            with bind.connect() as conn:
                counts[table.name] = conn.scalar(sa.select(sa.func.count()).select_from(table))
    return counts


def ask(db, email: str) -> Shape:
    """Request a link for ``email`` in a fresh unit of work, as a request would."""
    db.session.remove()  # a fresh session: nothing loaded, no keys cached
    before = _row_counts(db)
    waiting = len(queued_mail())
    rows = set(db.session.scalars(sa.select(OutboxMessage.id)))
    statements: list[tuple[str, int]] = []
    pending: dict[int, str] = {}

    def before_execute(conn, cursor, statement, parameters, context, executemany):
        pending[id(cursor)] = " ".join(statement.split())

    def after_execute(conn, cursor, statement, parameters, context, executemany):
        text = pending.pop(id(cursor))
        writes = text.split(" ", 1)[0].upper() in {"INSERT", "UPDATE", "DELETE"}
        statements.append((text, cursor.rowcount if writes else -1))

    engines = list(db.engines.values())
    for engine in engines:
        sa.event.listen(engine, "before_cursor_execute", before_execute)
        sa.event.listen(engine, "after_cursor_execute", after_execute)
    try:
        with unit_of_work():
            signin.request_sign_in_link(email)
    finally:
        for engine in engines:
            sa.event.remove(engine, "before_cursor_execute", before_execute)
            sa.event.remove(engine, "after_cursor_execute", after_execute)
    after = _row_counts(db)
    queued = queued_mail()[waiting:]
    stored = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.id.not_in(rows)))
    return Shape(
        statements=statements,
        rows_added={name: after[name] - before[name] for name in after
                    if after[name] != before[name]},
        mail=[(q.subject, _TOKEN.sub("/portal/sign-in/TOKEN", q.body)) for q in queued],
        delivered=[q.deliver for q in queued],
        sealed=[(len(row.master_key_id), len(row.wrapped_key), len(row.sealed)) for row in stored],
    )


@pytest.fixture
def known(db):
    customer = create_customer({"email": "ada@example.org", "name": "Ada Lovelace"},
                               actor=TEST_ACTOR)
    db.session.commit()
    return customer


@pytest.fixture
def erased_address(db):
    customer = create_customer({"email": "gone@example.org", "name": "Gone"}, actor=TEST_ACTOR)
    db.session.commit()
    erase_customer(customer, actor=TEST_ACTOR)
    db.session.commit()
    return "gone@example.org"


def test_a_customer_and_an_unknown_address_run_the_same_statements(db, known):
    customer = ask(db, "ada@example.org")
    stranger = ask(db, "nobody@example.org")

    assert stranger.statements == customer.statements
    # The shape is not empty: a lookup, a key lookup, the purge, the token row.
    verbs = [text.split(" ", 1)[0] for text, _ in customer.statements]
    assert verbs.count("SELECT") >= 2 and "DELETE" in verbs and "INSERT" in verbs


def test_a_customer_and_an_unknown_address_write_the_same_rows(db, known):
    customer = ask(db, "ada@example.org")
    stranger = ask(db, "nobody@example.org")

    # The token, and the sealed message with the job that delivers it.
    assert stranger.rows_added == customer.rows_added == {
        "portal_sign_in_tokens": 1, "mail_outbox": 1, "jobs": 1}


def test_a_customer_and_an_unknown_address_queue_the_same_mail(db, known):
    customer = ask(db, "ada@example.org")
    stranger = ask(db, "nobody@example.org")

    assert len(customer.mail) == 1 and stranger.mail == customer.mail
    # ... and only the customer's is delivered: the worker drops the other.
    assert customer.delivered == [True] and stranger.delivered == [False]


def test_the_stored_outbox_rows_do_not_tell_a_customer_from_an_unknown_address(db, known):
    customer = ask(db, "ada@example.org")
    stranger = ask(db, "somebody.with.a.longer.address@example.org")

    # Sealed and padded: neither the deliver flag nor the address length shows.
    assert len(customer.sealed) == 1 and stranger.sealed == customer.sealed


def test_an_erased_customers_address_gets_the_same_shape_as_an_unknown_one(db, known,
                                                                          erased_address):
    customer = ask(db, "ada@example.org")
    erased = ask(db, erased_address)

    assert (erased.statements, erased.rows_added, erased.mail, erased.sealed) == (
        customer.statements, customer.rows_added, customer.mail, customer.sealed)
    assert erased.delivered == [False]


def test_the_capture_sees_a_missing_key_lookup(db, known, monkeypatch):
    # The comparison can fail: without the data-key lookup an unknown address
    # makes for nobody, one SELECT fewer tells it apart from a customer's.
    customer = ask(db, "ada@example.org")
    monkeypatch.setattr(signin, "_look_up_no_key", lambda email: email)

    skipped = ask(db, "nobody@example.org")

    assert len(skipped.statements) == len(customer.statements) - 1


def test_an_unknown_address_gets_a_decoy_token_that_signs_nobody_in(db, known, monkeypatch):
    issued = []
    real_issue = signin.issue_link_token
    monkeypatch.setattr(signin, "issue_link_token", lambda: issued.append(real_issue())
                        or issued[-1])
    with unit_of_work():
        assert signin.request_sign_in_link("nobody@example.org") is None

    decoy = db.session.scalar(sa.select(PortalSignInToken))
    assert decoy.customer_id is None and decoy.token_hash == issued[0].digest
    with pytest.raises(signin.SignInLinkInvalid):
        signin.check_sign_in_link(issued[0].token)
    with pytest.raises(signin.SignInLinkInvalid), unit_of_work():
        signin.redeem_sign_in_link(issued[0].token)


def test_decoys_and_spent_tokens_are_purged_by_later_requests(db, known):
    with unit_of_work():
        signin.request_sign_in_link("nobody@example.org")
        signin.request_sign_in_link("ada@example.org")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PortalSignInToken)) == 2

    later = signin.LINK_LIFETIME + signin.KEEP_SPENT_TOKENS + dt.timedelta(minutes=1)
    with time_machine.travel(later), unit_of_work():
        signin.request_sign_in_link("someone-else@example.org")

    assert db.session.scalar(sa.select(sa.func.count()).select_from(PortalSignInToken)) == 1


# ------------------------------------------------------------ a real SMTP server


def test_only_the_customer_gets_mail_through_a_real_server(smtp_app):
    app, inbox = smtp_app
    with app.app_context():
        with unit_of_work():
            create_customer({"email": "ada@example.org", "name": "Ada"}, actor=TEST_ACTOR)
        for email in ("nobody@example.org", "ada@example.org", "else@example.org"):
            with unit_of_work():
                signin.request_sign_in_link(email)
    assert deliver_mail(app) >= 3  # the worker handled all three

    assert [m["To"] for m in inbox.messages] == ["ada@example.org"]
    assert inbox.recipients == ["ada@example.org"]  # no other address was even named
    # ... but the worker held the same conversation up to it three times.
    assert len(inbox.senders) == 3
