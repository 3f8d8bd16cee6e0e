"""The DPO dashboard page: who sees it, its charts and tables, CSV downloads, the period."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
import sqlalchemy as sa

from consentmgr.audit.models import AuditEntry
from consentmgr.consent import ledger
from consentmgr.consent.models import ConsentAction
from consentmgr.dashboard import aggregates as agg
from consentmgr.sql import utcnow
from tests.conftest import TEST_ACTOR
from tests.fixtures.audit import sequence_audit
from tests.fixtures.staff import sign_in_as


@pytest.fixture
def history(db, publish_policy_files, create_customer):
    """Grants and a withdrawal for personalisation in the last weeks, counted."""
    publish_policy_files()
    today = utcnow()
    for days_ago, action in ((20, ConsentAction.GRANTED), (13, ConsentAction.GRANTED),
                             (6, ConsentAction.WITHDRAWN)):
        collected = today - dt.timedelta(days=days_ago)
        ledger.record_choice(create_customer(), "personalisation", action, actor=TEST_ACTOR,
                             channel="import", collected_at=collected)
    sequence_audit(db)
    agg.refresh(db.session, now=today)
    db.session.commit()


@pytest.mark.parametrize(("role", "status"), [("agent", 403), ("dpo", 200), ("admin", 200)])
def test_the_dashboard_is_for_the_dpo_and_administrators(client, create_staff_user, role,
                                                         status):
    sign_in_as(client, create_staff_user(role, password=None))
    assert client.get("/staff/dashboard").status_code == status
    assert client.get("/staff/dashboard/withdrawals.csv").status_code == status


def test_the_dashboard_draws_every_chart_with_its_table_and_csv_link(client, dpo, history):
    page = client.get("/staff/dashboard?weeks=4").get_data(as_text=True)
    for chart in ("consent-rate", "withdrawals", "requests", "reveals", "reveals-by-staff",
                  "api-use", "gpc"):
        assert f'id="{chart}"' in page
        assert f"/staff/dashboard/{chart}.csv?weeks=4" in page
    assert page.count("<svg viewBox") == 7 and page.count("<caption>") >= 7
    assert "<rect" in page and "<polyline" in page  # the withdrawal bar, the opt-in line


def test_the_svg_needs_no_inline_script_or_style(client, dpo, history):
    page = client.get("/staff/dashboard").get_data(as_text=True)
    assert "<script" not in page and "<style" not in page
    assert not re.search(r"\sstyle=", page) and not re.search(r"\son[a-z]+=", page)


def test_a_chart_downloads_as_csv_for_the_period(client, dpo, history):
    response = client.get("/staff/dashboard/withdrawals.csv?weeks=4")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "withdrawals-4-weeks.csv" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][0] == "Week from" and rows[0][-1] == "Total"
    assert len(rows) == 1 + 4
    assert sum(int(row[-1]) for row in rows[1:]) == 1


def test_an_unknown_chart_is_not_found(client, dpo):
    assert client.get("/staff/dashboard/nothing.csv").status_code == 404


@pytest.mark.parametrize("weeks", ["5", "abc", "-1", "52;drop", ""])
def test_a_bad_period_is_a_form_error_not_a_crash(client, dpo, weeks):
    response = client.get(f"/staff/dashboard?weeks={weeks}")
    if weeks == "":
        assert response.status_code == 200  # the default period
        return
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Choose a period of 4, 12 or 52 weeks." in page and 'aria-invalid="true"' in page
    assert client.get(f"/staff/dashboard/withdrawals.csv?weeks={weeks}").status_code == 400


def test_an_empty_period_shows_empty_charts_with_a_sentence(client, dpo):
    response = client.get("/staff/dashboard?weeks=52")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Nothing was recorded in the last 52 weeks" in page
    assert "No consent was withdrawn in this period." in page
    assert page.count("<svg viewBox") == 7


def test_opening_the_dashboard_writes_nothing_to_the_ledger_or_the_trail(client, dpo, history,
                                                                          db):
    before = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry))
    client.get("/staff/dashboard")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == before


def test_a_flagged_staff_member_links_to_their_reveals_in_the_audit_trail(
        client, dpo, db, create_customer, create_staff_user):
    from consentmgr.actors import Actor
    from consentmgr.staff.access import reveal_field

    customer = create_customer()
    busy = create_staff_user("agent", password=None)
    for i, login in enumerate([busy] * 7 + [create_staff_user("agent", password=None)
                                            for _ in range(3)]):
        reveal_field(customer, "phone", actor=Actor("staff", login.id, role="agent"),
                     reason_code="customer-request",
                     justification="Caller asked us to confirm the number on file")
    sequence_audit(db)
    agg.refresh(db.session, now=utcnow())
    db.session.commit()
    page = client.get("/staff/dashboard").get_data(as_text=True)
    assert "Flagged:" in page
    assert f"/staff/audit?actor={busy.id}&amp;action=customer.reveal" in page
