"""The Art. 15(3)/20 export: a streamed ZIP with data.json, CSVs and a README."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid
import zipfile

import pytest
import sqlalchemy as sa

from consentmgr.actors import Actor
from consentmgr.audit import actions
from consentmgr.audit.services import entries_for_customer, record
from consentmgr.consent import services as consent
from consentmgr.consent.receipts import verify_receipt
from consentmgr.crypto import DecryptionError
from consentmgr.customers import services as customers
from consentmgr.customers.models import HistoryEntry
from consentmgr.customers.schemas import CustomerDetailsSchema, HistoryEntrySchema
from consentmgr.customers.services import CustomerErased
from consentmgr.errors import ValidationFailed
from consentmgr.requests import export
from consentmgr.requests.export import (
    EXPORT_FORMAT_VERSION,
    export_customer,
    export_filename,
    record_export,
)
from consentmgr.requests.models import DataSubjectRequest
from consentmgr.runtime import runtime
from tests.conftest import TEST_ACTOR

CUSTOMER = Actor("customer", "self")
FILES = {"data.json", "history.csv", "consent_events.csv", "access_log.csv", "requests.csv",
         "README.txt"}


def _key():
    return runtime().settings.receipt_signing_key


def _archive(customer) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(b"".join(export_customer(customer,
                                                               receipt_signing_key=_key()))))


def _data(customer) -> dict:
    return json.loads(_archive(customer).read("data.json"))


def _csv(archive: zipfile.ZipFile, name: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(archive.read(name).decode("utf-8"), newline="")))


def _add_history(db, customer, count: int, *, summary: str = "Order {n}: 2 items") -> None:
    start = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    for n in range(count):
        entry = HistoryEntry(id=uuid.uuid4(), customer=customer, channel="web", kind="purchase",
                             data_category="order-history",
                             occurred_at=start + dt.timedelta(hours=n))
        entry.summary = summary.format(n=n)
        entry.details = {"order": n}
        db.session.add(entry)
    db.session.commit()


def _add_request(db, customer, kind: str = "access", **values) -> DataSubjectRequest:
    now = dt.datetime(2026, 1, 31, 9, 0, tzinfo=dt.timezone.utc)
    request = DataSubjectRequest(id=uuid.uuid4(), customer_id=customer.id, type=kind,
                                 status=values.pop("status", "received"), channel="portal",
                                 received_at=now, due_at=now + dt.timedelta(days=28), **values)
    db.session.add(request)
    db.session.commit()
    return request


@pytest.fixture
def customer(db, publish_policy_files, create_customer):
    publish_policy_files()
    person = create_customer(email="ada@example.org", name="Ada Lovelace",
                             preferences={"channels": ["email"], "language": "en",
                                          "topics": ["orchids"]})
    customers.add_history(person, {
        "occurred_at": "2026-02-01T10:00:00+00:00", "channel": "web", "kind": "purchase",
        "data_category": "order-history", "summary": "Ordered a watering can",
        "details": {"order": 4711},
    }, actor=TEST_ACTOR)
    customers.add_history(person, {
        "occurred_at": "2026-01-15T10:00:00+00:00", "channel": "phone", "kind": "support-contact",
        "data_category": "support-history", "summary": "Asked about delivery",
    }, actor=TEST_ACTOR)
    consent.grant_consent(person, "marketing-email", actor=CUSTOMER, channel="portal")
    consent.withdraw_consent(person, "marketing-email", actor=CUSTOMER, channel="portal")
    db.session.commit()
    return person


def test_export_is_a_zip_with_data_json_one_csv_per_kind_and_a_readme(customer):
    archive = _archive(customer)
    assert set(archive.namelist()) == FILES
    assert archive.testzip() is None  # every entry's CRC checks


def test_data_json_names_its_format_version_and_time(customer):
    data = _data(customer)
    assert data["format"] == "consentmgr-export"
    assert data["version"] == EXPORT_FORMAT_VERSION == 1
    assert dt.datetime.fromisoformat(data["generated_at"]).tzinfo is not None
    assert data["policy_version"] == "2026-03"


def test_data_json_holds_the_customers_values_and_preferences(customer):
    record_ = _data(customer)["customer"]
    assert record_["id"] == str(customer.id)
    assert record_["email"] == "ada@example.org"
    assert record_["name"] == "Ada Lovelace"
    assert record_["date_of_birth"] == "1985-04-12"
    assert record_["preferences"]["topics"] == ["orchids"]


def test_data_json_holds_the_history_oldest_first_in_clear(customer):
    history = _data(customer)["history"]
    assert [entry["summary"] for entry in history] == ["Asked about delivery",
                                                       "Ordered a watering can"]
    assert history[1]["details"] == {"order": 4711}
    assert history[1]["data_category"] == "order-history"


def test_data_json_can_be_loaded_back_by_the_input_schemas(customer):
    # The customer block and history entries use the names the API accepts.
    data = _data(customer)
    details = {k: v for k, v in data["customer"].items()
               if k in CustomerDetailsSchema().fields}
    assert CustomerDetailsSchema().load(details)["email"] == "ada@example.org"
    for entry in data["history"]:
        loaded = HistoryEntrySchema().load(
            {k: v for k, v in entry.items() if k in HistoryEntrySchema().fields})
        assert loaded["summary"] == entry["summary"]


def test_consent_events_carry_receipts_that_verify_with_the_receipt_key(customer):
    events = _data(customer)["consent_events"]
    assert [(e["purpose"], e["action"]) for e in events] == [
        ("marketing-email", "granted"), ("marketing-email", "withdrawn")]
    for event in events:
        claims = verify_receipt(event["receipt"], signing_key=_key())
        assert claims["consentReceiptID"] == event["id"]
        assert claims["piiPrincipalId"] == str(customer.id)


def test_access_log_lists_each_staff_view_of_the_record(db, customer, create_staff_user):
    staff = create_staff_user("agent", name="Grace Hopper", password=None, enrolled=False)
    agent = Actor("staff", str(staff.id), "agent")
    record(actions.CUSTOMER_VIEW, actor=agent, subject_id=customer.id)
    record(actions.CUSTOMER_REVEAL, actor=agent, subject_id=customer.id, fields=["phone"],
           reason_code="support-ticket")
    db.session.commit()
    access_log = _data(customer)["access_log"]
    assert [a["action"] for a in access_log] == ["viewed", "revealed"]
    assert access_log[1]["fields"] == ["phone number"]
    assert access_log[1]["reason_code"] == "support-ticket"
    assert access_log[0]["staff_name"] == "Grace Hopper"
    assert access_log[0]["staff_role"] == "Customer service agent"


def test_requests_lists_only_this_customers_requests_with_their_notes(db, customer,
                                                                        create_customer):
    mine = _add_request(db, customer, "rectification")
    mine.notes = "The street name is misspelt"
    db.session.commit()
    _add_request(db, create_customer(), "erasure")
    requests = _data(customer)["requests"]
    assert [(r["id"], r["type"], r["notes"]) for r in requests] == [
        (str(mine.id), "rectification", "The street name is misspelt")]
    assert requests[0]["due_at"].startswith("2026-02-28")


def test_each_csv_has_its_header_and_one_row_per_record(db, customer):
    _add_request(db, customer)
    archive = _archive(customer)
    expected = {
        "history.csv": (export.HISTORY_COLUMNS, 2),
        "consent_events.csv": (export.EVENT_COLUMNS, 2),
        "access_log.csv": (export.ACCESS_COLUMNS, 0),
        "requests.csv": (export.REQUEST_COLUMNS, 1),
    }
    for name, (columns, count) in expected.items():
        rows = _csv(archive, name)
        assert tuple(rows[0]) == columns, name
        assert len(rows) - 1 == count, name
    history = _csv(archive, "history.csv")
    assert history[2][history[0].index("summary")] == "Ordered a watering can"


def test_csv_cell_that_a_spreadsheet_would_run_as_a_formula_is_defused(db, customer):
    _add_history(db, customer, 1, summary="=HYPERLINK(\"http://evil.example\")")
    rows = _csv(_archive(customer), "history.csv")
    summaries = [row[rows[0].index("summary")] for row in rows[1:]]
    assert "'=HYPERLINK(\"http://evil.example\")" in summaries
    assert not any(s.startswith("=") for s in summaries)


def test_readme_gives_the_art_15_information_of_the_policy_in_effect(customer):
    readme = _archive(customer).read("README.txt").decode("utf-8")
    words = " ".join(readme.split())  # as read, whatever the line breaks
    for text in (
        "Your customer account", "Newsletter and offers by email",  # (a) purposes
        "Orders and invoices",  # (b) categories
        "Paylane Payments S.A.", "Helpdeskly Inc., United States",  # (c) recipients, transfers
        "§ 257 HGB",  # (d) retention
        "have inaccurate data corrected",  # (e) rights
        "Berlin Commissioner for Data Protection",  # (f) supervisory authority
        "We also receive some data about you from others",  # (g) source
        "automated processing",  # (h) automated decisions
        "Ada Lovelace", "version 2026-03",
    ):
        assert text in words, text
    assert "**" not in readme  # Markdown emphasis is dropped


def test_export_without_a_policy_in_effect_still_hands_out_the_data(db, create_customer):
    person = create_customer(name="No Policy Yet")
    archive = _archive(person)
    assert json.loads(archive.read("data.json"))["policy_version"] is None
    readme = archive.read("README.txt").decode("utf-8")
    assert "No privacy policy was in effect" in readme and "No Policy Yet" in readme


def test_erased_customer_is_refused_before_any_byte_is_sent(db, customer):
    customers.erase_customer(customer, actor=TEST_ACTOR)
    db.session.commit()
    with pytest.raises(CustomerErased):
        export_customer(customer, receipt_signing_key=_key())
    with pytest.raises(CustomerErased):
        record_export(customer, actor=CUSTOMER, channel="portal")


def test_large_history_is_streamed_in_several_chunks(db, customer, monkeypatch):
    monkeypatch.setattr(export, "_CHUNK", 8 * 1024)
    _add_history(db, customer, 1500, summary="Order {n}: " + "x" * 40)
    chunks = list(export_customer(customer, receipt_signing_key=_key()))
    total = sum(map(len, chunks))
    assert len(chunks) >= 5
    assert chunks[0].startswith(b"PK\x03\x04")  # a ZIP entry starts before the rest is read
    assert max(map(len, chunks)) < total / 3
    history = json.loads(zipfile.ZipFile(io.BytesIO(b"".join(chunks))).read("data.json"))["history"]
    assert len(history) == 1502


def test_history_ciphertext_moved_to_another_row_fails_to_decrypt(db, customer):
    table = HistoryEntry.__table__
    first, second = db.session.execute(
        sa.select(table.c.id, table.c.summary).where(table.c.customer_id == customer.id)).all()
    db.session.execute(sa.update(table).where(table.c.id == first.id)
                       .values(summary=second.summary))
    db.session.commit()
    with pytest.raises(DecryptionError):
        b"".join(export_customer(customer, receipt_signing_key=_key()))


def test_record_export_writes_an_audit_entry_without_personal_data(db, customer):
    record_export(customer, actor=CUSTOMER, channel="portal")
    db.session.commit()
    entry, = entries_for_customer(customer.id, actions=[actions.CUSTOMER_EXPORTED])
    assert entry.details == {"channel": "portal", "format_version": EXPORT_FORMAT_VERSION}
    assert entry.fields == [] and entry.justification is None
    stored = json.dumps([str(getattr(entry, c.key)) for c in entry.__table__.columns])
    for value in ("ada@example.org", "Ada Lovelace", "orchids", "watering can"):
        assert value not in stored
    # The boundary commits the entry, then streams: the export still reads the data.
    assert _data(customer)["customer"]["email"] == "ada@example.org"


def test_record_export_refuses_an_unknown_channel(customer):
    with pytest.raises(ValidationFailed):
        record_export(customer, actor=CUSTOMER, channel="fax")


def test_export_filename_holds_the_id_and_date_but_nothing_personal(customer):
    name = export_filename(customer, now=dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc))
    assert name == f"my-data-{customer.id}-2026-03-01.zip"
