"""A year of made-up history for the demo customers, so the dashboard has something to show.

For each demo customer, deterministically: the consent choices made when
they signed up (some time in the last year), the odd withdrawal since, and
-- around the 2026-03 policy version, which changed personalisation
materially -- a wave of withdrawals and renewals, with some grants left
waiting for renewal; a few rectification and access requests, answered
quickly or late, and one left overdue. Choices are recorded through the
ledger as imported (``channel="import"`` with ``collected_at``: the day
the choice was made), requests through the register with ``now=``, so
every row is one the application could have written. Never in production
(``flask demo load`` refuses first).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from consentmgr.actors import Actor
from consentmgr.consent.catalogue import UnknownPurpose
from consentmgr.consent.ledger import ConsentNotApplicable, Evidence, record_choice
from consentmgr.consent.models import ConsentAction, ConsentEvent
from consentmgr.customers.models import Customer
from consentmgr.extensions import db
from consentmgr.policies.versions import list_versions
from consentmgr.requests.decisions import complete_request
from consentmgr.requests.register import file_request
from consentmgr.staff.access import reveal_field

#: Consent purposes and the share of new customers who grant each.
SIGN_UP_GRANTS = {"marketing-email": 0.62, "marketing-sms": 0.28, "personalisation": 0.55}
MATERIAL_PURPOSE = "personalisation"  # changed materially by the 2026-03 version
DAYS_OF_HISTORY = 364


@dataclass(frozen=True)
class DemoHistory:
    """What :func:`load_demo_history` wrote."""

    customers: int
    choices: int
    requests: int


def _moment(day: dt.date, rng: random.Random) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(rng.randint(7, 21), rng.randint(0, 59)),
                               tzinfo=dt.timezone.utc)


def _version_on(day: dt.date, versions: list[tuple[str, dt.date]]) -> str:
    return [label for label, effective in versions if effective <= day][-1]


def _choices(rng: random.Random, today: dt.date, versions: list[tuple[str, dt.date]],
             change: dt.date | None) -> list[tuple[dt.date, str, ConsentAction, bool]]:
    """One customer's (day, purpose, action, gpc) choices, in order."""
    first_effective = versions[0][1]
    earliest = max(first_effective, today - dt.timedelta(days=DAYS_OF_HISTORY))
    span = (today - earliest).days
    if span < 2:
        return []
    signed_up = earliest + dt.timedelta(days=rng.randint(0, span - 1))
    gpc = rng.random() < 0.12  # their browser sends Global Privacy Control
    choices = []
    for purpose, share in SIGN_UP_GRANTS.items():
        if gpc and purpose != "personalisation":
            choices.append((signed_up, purpose, ConsentAction.REFUSED, True))
            continue
        granted = rng.random() < share
        choices.append((signed_up, purpose,
                        ConsentAction.GRANTED if granted else ConsentAction.REFUSED, False))
        if granted and purpose == MATERIAL_PURPOSE and change and signed_up < change <= today:
            # After a material change, the grant must be renewed: some renew, some withdraw.
            roll = rng.random()
            if roll < 0.35:
                when = change + dt.timedelta(days=rng.randint(1, 34))
                choices.append((when, purpose, ConsentAction.WITHDRAWN, False))
            elif roll < 0.75:
                when = change + dt.timedelta(days=rng.randint(3, 60))
                choices.append((when, purpose, ConsentAction.GRANTED, False))
        elif granted and rng.random() < 0.18:
            when = signed_up + dt.timedelta(days=rng.randint(7, 200))
            choices.append((when, purpose, ConsentAction.WITHDRAWN, False))
    return sorted((c for c in choices if c[0] < today), key=lambda c: (c[0], c[1]))


def _already_has_history(customer: Customer) -> bool:
    return db.session.scalar(sa.select(ConsentEvent.id).where(
        ConsentEvent.customer_id == customer.id).limit(1)) is not None


def load_demo_history(customers: Iterable[Customer], *, actor: Actor, staff: Actor,
                      today: dt.date, agents: Sequence[Actor] = (),
                      seed: int = 2026) -> DemoHistory:
    """Record a year of consent choices and requests for each customer without any yet.

    Deterministic for ``seed`` and ``today``. ``staff`` is who answers the
    requests; ``agents`` reveal a few phone numbers today, the first of them
    much more often than the others (the audit trail's clock cannot be
    turned back, so reveals are only recent).
    Flushes; the caller commits.
    """
    versions = [(v.version, v.effective_date) for v in list_versions()]
    if not versions:
        return DemoHistory(0, 0, 0)
    change = next((effective for label, effective in versions if label == "2026-03"), None)
    done = choices_made = requests_made = 0
    overdue_left = False
    for index, customer in enumerate(customers):
        if _already_has_history(customer):
            continue
        rng = random.Random(f"{seed}:{index}")
        for day, purpose, action, gpc in _choices(rng, today, versions, change):
            try:
                record_choice(customer, purpose, action, actor=actor, channel="import",
                              policy_version=_version_on(day, versions),
                              collected_at=_moment(day, rng), evidence=Evidence(gpc=gpc),
                              today=day)
            except (UnknownPurpose, ConsentNotApplicable):
                continue  # a purpose this policy does not ask consent for
            choices_made += 1
        if rng.random() < 0.45:
            received = today - dt.timedelta(days=rng.randint(3, 330))
            req = file_request(customer, "rectification", actor=staff, channel="staff",
                               on_behalf=True, identity_check="Demo: identity checked by phone",
                               now=_moment(received, rng))
            took = rng.choice((1, 2, 3, 4, 5, 6, 8, 9, 12, 15, 21, 26, 38))
            if received + dt.timedelta(days=took) < today:
                complete_request(req, actor=staff, outcome="rectified",
                                 now=_moment(received + dt.timedelta(days=took), rng))
            requests_made += 1
        elif not overdue_left:
            received = today - dt.timedelta(days=40)
            file_request(customer, "rectification", actor=staff, channel="staff", on_behalf=True,
                         identity_check="Demo: identity checked by phone",
                         now=_moment(received, rng))
            overdue_left, requests_made = True, requests_made + 1
        if agents and rng.random() < 0.3:
            weights = [6] + [1] * (len(agents) - 1)
            reveal_field(customer, "phone", actor=rng.choices(agents, weights)[0],
                         reason_code=rng.choice(("customer-request", "data-subject-request")),
                         justification="Demo: the caller asked us to confirm the number on file")
        done += 1
    db.session.flush()
    return DemoHistory(done, choices_made, requests_made)
