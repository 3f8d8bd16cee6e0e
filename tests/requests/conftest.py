"""Fixtures for the requests area: the shipped policies, a customer, actors, and the mails sent."""

from __future__ import annotations

import uuid

import pytest

from consentmgr.actors import Actor
from consentmgr.customers.signin import portal_actor

DPO = Actor("staff", str(uuid.UUID(int=1)), role="dpo")
AGENT = Actor("staff", str(uuid.UUID(int=2)), role="agent")


@pytest.fixture
def outbox(mails):
    """Messages queued for the customer: (to, subject, body), in order."""
    return mails


@pytest.fixture
def policies(publish_policy_files):
    """The shipped policy versions, published (2026-03 is in effect)."""
    return publish_policy_files()


@pytest.fixture
def customer(create_customer, policies):
    """An active customer, with the shipped policies in effect."""
    return create_customer()


@pytest.fixture
def me(customer):
    """The customer acting for themselves in the portal."""
    return portal_actor(customer)
