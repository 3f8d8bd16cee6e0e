"""The Art. 30(1) record: every purpose of the policy, every measure of the running configuration."""

from __future__ import annotations

import csv
import datetime as dt
import io

from consentmgr.keys.registry import encrypted_tables
from consentmgr.policies.services import current_version, document_of, get_version
from consentmgr.processing.measures import RunningConfiguration, measures_in_force
from consentmgr.processing.records import build_record, record_csv


def _config(**overrides) -> RunningConfiguration:
    values = dict(production=False, master_key_ids=("k2", "k1"), blind_index_key_ids=("b1",),
                  audit_signing_key_ids=("a1",), receipt_signing_key_ids=("r1", "r0"),
                  separate_key_database=False, audit_sequence_delay=dt.timedelta(seconds=1),
                  audit_checkpoint_every=dt.timedelta(minutes=1), hsts=None,
                  staff_idle_minutes=15, rate_limits={"API_RATE_LIMIT": "6000 per minute"})
    values.update(overrides)
    return RunningConfiguration(**values)


def test_every_encrypted_column_is_a_measure(db):
    names = {m.name for m in measures_in_force(_config()) if m.area == "encryption"}
    expected = {f"{t.name}.{c}" for t in encrypted_tables() for c in t.columns}
    assert names == expected
    assert {"customers.email", "staff_users.totp_secret", "breaches.description"} <= names


def test_key_management_is_read_from_the_configuration(db):
    measures = {m.name: m.detail for m in measures_in_force(_config())}
    assert measures["master-keys"].startswith("2 key-encryption keys")
    assert "(current: k2)" in measures["master-keys"]
    assert "main database" in measures["key-store"]
    separate = {m.name: m.detail for m in measures_in_force(_config(separate_key_database=True))}
    assert "separate database" in separate["key-store"]
    assert "1 audit checkpoint signing key and 2 consent receipt signing keys" in \
        measures["signing-keys"]


def test_tls_and_hsts_are_listed_as_the_running_mode_sends_them(db):
    dev = {m.name: m.detail for m in measures_in_force(_config())}
    prod = {m.name: m.detail for m in measures_in_force(_config(production=True,
                                                                hsts="max-age=31536000"))}
    assert dev["tls"].startswith("development mode")
    assert "HSTS sent over TLS (max-age=31536000)" in prod["tls"]


def test_the_role_matrix_and_rate_limits_are_measures(db):
    measures = {m.name: m.detail for m in measures_in_force(_config())}
    assert "records-of-processing" in measures["role-admin"]
    assert "customers" not in measures["role-admin"]
    assert "breaches" in measures["role-dpo"]
    assert measures["api-rate-limit"] == "6000 per minute"


def test_the_record_holds_every_purpose_with_its_article_30_facts(db, publish_policy_files):
    publish_policy_files()
    document = document_of(current_version())
    record = build_record(document, measures_in_force(_config()))

    assert [a.purpose.slug for a in record.activities] == [p.slug for p in document.purposes]
    support = next(a for a in record.activities if a.purpose.slug == "support")
    assert support.legal_basis == "Legitimate interests (GDPR Art. 6(1)(f))"
    assert support.purpose.transfers[0].country == "United States"
    assert [c.slug for c in support.categories] == ["identity", "contact", "order-history",
                                                    "support-history"]
    assert record.to_dict()["controller"]["name"] == "Northwind Goods GmbH"


def test_the_csv_has_one_row_per_purpose_naming_every_measure(db, publish_policy_files):
    publish_policy_files()
    measures = measures_in_force(_config())
    record = build_record(document_of(current_version()), measures)

    rows = list(csv.DictReader(io.StringIO(record_csv(record))))

    assert [r["purpose"] for r in rows] == [a.purpose.slug for a in record.activities]
    assert all(m.name in rows[0]["measures"] for m in measures)


def test_each_published_version_has_its_own_record(db, publish_policy_files):
    publish_policy_files()
    old = build_record(document_of(get_version("2025-01")), [])
    new = build_record(document_of(get_version("2026-03")), [])
    assert old.document.version == "2025-01" and new.document.version == "2026-03"
    assert {a.purpose.slug for a in old.activities} != {a.purpose.slug for a in new.activities} \
        or old.document.sha256 != new.document.sha256
