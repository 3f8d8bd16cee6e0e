"""The Art. 30 record's pages: HTML with a version selector, CSV and JSON, printable."""

from __future__ import annotations

import csv
import io

import pytest
import sqlalchemy as sa

from consentmgr.audit import actions
from consentmgr.audit.models import AuditEntry
from consentmgr.policies.services import current_version, document_of
from consentmgr.processing.measures import measures_in_force
from consentmgr.web.staff.records import running_configuration
from tests.fixtures.staff import create_staff_user, sign_in_as  # noqa: F401

PAGE = "/staff/records-of-processing"


@pytest.fixture
def dpo(dpo, publish_policy_files):
    """The signed-in DPO (tests/fixtures/staff.py), with the shipped policies published."""
    publish_policy_files()
    return dpo


def test_the_page_lists_every_purpose_and_the_measures_in_force(client, db, dpo):
    page = client.get(PAGE).get_data(as_text=True)
    for purpose in document_of(current_version()).purposes:
        assert f'id="activity-{purpose.slug}"' in page
    measures = measures_in_force(running_configuration())
    assert len(measures) > 40  # every encrypted column, keys, audit, roles, transport, limits
    for measure in measures:
        assert f'<th scope="row" class="id">{measure.name}</th>' in page
    assert "breaches.description" in page and "Key management" in page
    assert "style=" not in page  # the strict CSP: print styles live in the stylesheet


def test_the_version_selector_shows_an_older_version(client, db, dpo):
    page = client.get(PAGE, query_string={"version": "2025-01"}).get_data(as_text=True)
    assert "2025-01, in effect from" in page
    assert client.get(PAGE, query_string={"version": "no-such"}).status_code == 404


def test_csv_and_json_carry_the_same_record_and_are_audited(client, db, dpo):
    rows = list(csv.DictReader(io.StringIO(client.get(f"{PAGE}.csv").get_data(as_text=True))))
    data = client.get(f"{PAGE}.json").get_json()

    assert [r["purpose"] for r in rows] == [a["purpose"] for a in data["activities"]]
    assert data["policy_version"] == "2026-03"
    assert any(m["name"] == "customers.email" for m in data["measures"])
    formats = db.session.scalars(sa.select(AuditEntry.details).where(
        AuditEntry.action == actions.RECORDS_OF_PROCESSING_EXPORTED)).all()
    assert sorted(d["format"] for d in formats) == ["csv", "json"]


def test_the_page_prints_without_its_controls(client, db, dpo):
    page = client.get(PAGE).get_data(as_text=True)
    css = client.get("/static/site.css").get_data(as_text=True)
    assert 'class="compare-form no-print"' in page
    assert "@media print {\n  .no-print { display: none; }" in css
