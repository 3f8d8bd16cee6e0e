"""The DPO's audit browser: filter, page, export as CSV, and the chain's verification.

The filters are a GET form (a filtered view is a shareable URL; the values
are ids, action names and dates, never personal data). The page runs
:func:`~consentmgr.audit.services.verify_chain` each time it is opened: a
full scan, fine for a page a DPO opens now and then, and it means the
status shown is never stale.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any, Iterator

from flask import (
    Response,
    current_app,
    g,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from wtforms.fields.choices import SelectChoice

from consentmgr.audit import actions
from consentmgr.audit import services as audit
from consentmgr.audit.sequencer import max_delay
from consentmgr.errors import ValidationFailed
from consentmgr.i18n import _, lazy_gettext
from consentmgr.runtime import runtime
from consentmgr.staff.directory import staff_directory
from consentmgr.staff.permissions import Permission
from consentmgr.text import spreadsheet_cell
from consentmgr.unit_of_work import unit_of_work
from consentmgr.web.staff import bp
from consentmgr.web.staff.auth import request_info, requires
from consentmgr.web.staff.forms import ROLE_LABELS, AuditFilterForm
from consentmgr.web.staff.navigation import deliberate_navigation

PAGE_SIZE = 50
EXPORT_BATCH = 500
CSV_COLUMNS = ("sequence", "occurred_at", "actor_type", "actor_id", "actor_role", "action",
               "outcome", "subject_id", "fields", "reason_code", "justification", "request_id",
               "client_hash", "details", "prev_hash", "hash")
# Errors from the audit service, by the filter they belong to.
_ERROR_FIELDS = {"subject_id": "customer", "customer_id": "customer", "until": "until",
                 "since": "since"}


def _known_actions() -> list[str]:
    # Every action is a constant of consentmgr.audit.actions (outcomes have no
    # dot; REQUEST_PREFIX ends with one).
    return sorted({value for name, value in vars(actions).items()
                   if name.isupper() and isinstance(value, str) and actions.is_valid_action(value)
                   and "." in value and not value.endswith(".")})


def _action_choices() -> list[SelectChoice]:
    known = _known_actions()
    areas = sorted({name.split(".")[0] for name in known})
    return ([SelectChoice("", _("Any action"))]
            + [SelectChoice(f"{area}.*", _("Any %(area)s action", area=area)) for area in areas]
            + [SelectChoice(name, name) for name in known])


def _filter_form() -> AuditFilterForm:
    form = AuditFilterForm(request.args)
    form.action.choices = _action_choices()
    return form


def _filters(form: AuditFilterForm) -> dict[str, Any]:
    return {
        "actor_id": (form.actor.data or "").strip() or None,
        "subject_id": (form.customer.data or "").strip() or None,
        "action": form.action.data or None,
        "since": form.since.data,
        "until": form.until.data,
    }


def _attach(form: AuditFilterForm, exc: ValidationFailed) -> None:
    for key, messages in exc.errors.items():
        name = _ERROR_FIELDS.get(key)
        target = form[name].errors if name else form.form_errors
        target.extend(messages)


def _page_url(page: int) -> str:
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return url_for("staff.audit_log", **args, page=page)


@bp.get("/audit")
@requires(Permission.AUDIT)
def audit_log():
    """Entries matching the filters, newest first, with the chain's verification status."""
    form = _filter_form()
    entries, total, page = [], 0, form.page.data or 1
    if form.validate():
        try:
            filters = _filters(form)
            total = audit.count_entries(**filters)
            entries = audit.search_entries(**filters, limit=PAGE_SIZE,
                                           offset=(page - 1) * PAGE_SIZE)
        except ValidationFailed as exc:
            _attach(form, exc)
    verification = audit.verify_chain(signing_key=runtime().settings.audit_signing_keys,
                                      sequence_delay=max_delay(current_app.config))
    directory = staff_directory(
        {e.actor_id for e in entries if e.actor_type == "staff"})
    pages = max(1, -(-total // PAGE_SIZE))
    export_args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "staff/audit.html", form=form, entries=entries, total=total, page=page, pages=pages,
        verification=verification, directory=directory, page_url=_page_url,
        role_labels=ROLE_LABELS,
        export_url=url_for("staff.audit_csv", **export_args),
    ), 422 if form.errors else 200


def _csv_rows(filters: dict[str, Any]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_COLUMNS)
    yield flush()
    offset, last = 0, None
    while True:
        batch = audit.search_entries(**filters, limit=EXPORT_BATCH, offset=offset)
        for entry in batch:
            # Newest first: entries appended meanwhile push older ones to later
            # offsets, so a row can come round twice but none is skipped.
            if last is not None and entry.id >= last:
                continue
            last = entry.id
            item = entry.as_record()
            item["fields"] = " ".join(item["fields"])
            item["details"] = json.dumps(item["details"], sort_keys=True, ensure_ascii=False)
            writer.writerow([spreadsheet_cell(item[column]) for column in CSV_COLUMNS])
        yield flush()
        if len(batch) < EXPORT_BATCH:
            break
        offset += EXPORT_BATCH


@bp.get("/audit.csv")
@requires(Permission.AUDIT)
@deliberate_navigation(lazy_gettext("the audit export"))
def audit_csv():
    """The entries matching the same filters as the browser, as CSV (all pages)."""
    form = _filter_form()
    if form.validate():
        filters = _filters(form)
        try:
            audit.count_entries(**filters)  # validates the filters before the download starts
        except ValidationFailed as exc:
            _attach(form, exc)
    if form.errors:
        return audit_log()
    # Exporting the trail is itself accountable, and on the record before a row goes out.
    with unit_of_work():
        audit.record_export(g.staff.actor, filtered=any(v is not None for v in filters.values()),
                            **request_info())
    return Response(
        stream_with_context(_csv_rows(filters)), mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="audit-trail.csv"'},
    )
