"""The record of processing activities (GDPR Art. 30(1)): HTML, CSV and JSON, per policy version.

Generated at each request from the published policy (``?version=`` picks
one; the version in effect by default) and from the running configuration
(:func:`running_configuration`), so the measures listed are the ones in
force. DPO and administrators (``records-of-processing``). Taking the CSV
or JSON away is audited, as the audit export is. The page and the CSV are
for people: in the page language, with the policy's document in that
language where it was published in it. The JSON is for programs: always the
canonical English document and English text.
"""

from __future__ import annotations

import json

from flask import Response, current_app, g, render_template, request, url_for

from consentmgr.audit import actions
from consentmgr.audit import services as audit
from consentmgr.audit.sequencer import checkpoint_every, max_delay
from consentmgr.i18n import DEFAULT_LANGUAGE, current_language, in_language
from consentmgr.policies.services import (
    PolicyNotFound,
    current_version,
    document_of,
    get_version,
    list_versions,
)
from consentmgr.processing.measures import RunningConfiguration, measures_in_force
from consentmgr.processing.records import ProcessingRecord, build_record, record_csv
from consentmgr.runtime import runtime
from consentmgr.staff.permissions import Permission
from consentmgr.unit_of_work import unit_of_work
from consentmgr.web.api.ratelimit import DEFAULT_RATE_LIMIT
from consentmgr.web.headers import STRICT_TRANSPORT_SECURITY
from consentmgr.web.staff import bp
from consentmgr.web.staff.auth import DEFAULT_IDLE_MINUTES, request_info, requires
from consentmgr.web.staff.views import DEFAULT_ACCOUNT_LIMIT, DEFAULT_SIGN_IN_LIMIT

# Each rate limit the application enforces, and its default where the
# setting is not in app.config (the portal puts its defaults there itself).
_RATE_LIMIT_DEFAULTS = {
    "API_RATE_LIMIT": DEFAULT_RATE_LIMIT,
    "STAFF_SIGN_IN_RATE_LIMIT": DEFAULT_SIGN_IN_LIMIT,
    "STAFF_ACCOUNT_RATE_LIMIT": DEFAULT_ACCOUNT_LIMIT,
    "PORTAL_SIGN_IN_LIMIT_PER_ADDRESS": None,
    "PORTAL_SIGN_IN_LIMIT_PER_CLIENT": None,
    "PORTAL_EMAIL_CHANGE_LIMIT": None,
    "PORTAL_EMAIL_CHANGE_LIMIT_PER_CLIENT": None,
}


def running_configuration() -> RunningConfiguration:
    """What the measures are read from: this instance's settings (ids and counts, no secrets)."""
    settings, config = runtime().settings, current_app.config
    limits = {name: str(config.get(name) or default)
              for name, default in _RATE_LIMIT_DEFAULTS.items() if config.get(name) or default}
    return RunningConfiguration(
        production=settings.production,
        master_key_ids=tuple(settings.master_keys.ids),
        blind_index_key_ids=tuple(settings.blind_index_keys.ids),
        audit_signing_key_ids=tuple(settings.audit_signing_keys.ids),
        receipt_signing_key_ids=tuple(settings.receipt_signing_keys.ids),
        separate_key_database=bool(settings.keys_database_url),
        audit_sequence_delay=max_delay(config),
        audit_checkpoint_every=checkpoint_every(config),
        hsts=STRICT_TRANSPORT_SECURITY if settings.production else None,
        staff_idle_minutes=int(config.get("STAFF_IDLE_MINUTES", DEFAULT_IDLE_MINUTES)),
        rate_limits=limits,
    )


def _record(language: str) -> ProcessingRecord:
    """The record of ``?version=`` (or the one in effect) in ``language``; PolicyNotFound → 404."""
    label = request.args.get("version", "").strip()
    version = get_version(label) if label else current_version()
    return build_record(document_of(version, language),
                        measures_in_force(running_configuration()))


def _exported(kind: str) -> None:
    with unit_of_work():
        audit.record(actions.RECORDS_OF_PROCESSING_EXPORTED, actor=g.staff.actor,
                     details={"format": kind}, **request_info())


@bp.get("/records-of-processing")
@requires(Permission.RECORDS_OF_PROCESSING)
def records_of_processing():
    """The Art. 30(1) record, printable, with a version selector and CSV/JSON downloads."""
    versions = [v.version for v in list_versions()]
    try:
        record = _record(current_language())
    except PolicyNotFound as exc:
        return render_template("staff/records.html", record=None, versions=versions,
                               message=str(exc)), 404
    args = {"version": record.document.version}
    return render_template("staff/records.html", record=record, versions=versions,
                           csv_url=url_for("staff.records_of_processing_csv", **args),
                           json_url=url_for("staff.records_of_processing_json", **args))


@bp.get("/records-of-processing.csv")
@requires(Permission.RECORDS_OF_PROCESSING)
def records_of_processing_csv():
    """One row per purpose (spreadsheet-safe), in the page language."""
    record = _record(current_language())
    _exported("csv")
    name = f"records-of-processing-{record.document.version}.csv"
    return Response(record_csv(record), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/records-of-processing.json")
@requires(Permission.RECORDS_OF_PROCESSING)
def records_of_processing_json():
    """The record as JSON: English, the canonical document."""
    with in_language(DEFAULT_LANGUAGE):
        record = _record(DEFAULT_LANGUAGE)
    _exported("json")
    return Response(json.dumps(record.to_dict(), ensure_ascii=False, indent=2),
                    mimetype="application/json")
