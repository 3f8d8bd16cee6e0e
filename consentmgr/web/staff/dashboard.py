"""The DPO dashboard at ``/staff/dashboard``: weekly charts, their tables, and CSV downloads.

Figures come from :func:`consentmgr.dashboard.services.dashboard_report`
(daily aggregates the worker keeps up to date), never from the ledger.
The period is a GET parameter (``weeks`` = 4, 12 or 52): a shareable URL;
anything else is a form error with status 400, and nothing is read.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

from flask import Response, g, render_template, request

from consentmgr.audit import actions
from consentmgr.consent.catalogue import NoPolicyPublished, catalogue
from consentmgr.dashboard import aggregates as agg
from consentmgr.dashboard.services import (
    PERIODS,
    RATE_WINDOW,
    REVEAL_OUTLIER_FACTOR,
    DashboardReport,
    dashboard_report,
    parse_period,
)
from consentmgr.errors import ValidationFailed
from consentmgr.extensions import db
from consentmgr.i18n import _, current_language
from consentmgr.sql import utcnow
from consentmgr.staff.access import REASON_LABELS
from consentmgr.staff.directory import StaffCard, staff_directory
from consentmgr.staff.permissions import Permission, can
from consentmgr.text import spreadsheet_cell
from consentmgr.web.errors import render_error
from consentmgr.web.staff import bp
from consentmgr.web.staff.auth import requires
from consentmgr.web.staff.charts import Chart, ranked_bars, rate_lines, stacked_bars
from consentmgr.web.staff.forms import REQUEST_TYPE_LABELS


def _purpose_titles(today) -> dict[str, str]:
    language = current_language()
    try:
        return {slug: info.title_in(language) for slug, info in catalogue(today).purposes.items()}
    except NoPolicyPublished:
        return {}


def build_charts(report: DashboardReport, *, today, cards: dict[str, StaffCard]
                 ) -> dict[str, Chart]:
    """Every chart of the dashboard, by id, from the period's report (``cards``: staff names)."""
    weeks, titles = report.weeks, _purpose_titles(today)
    versions = [(v.label, v.effective_date) for v in report.versions]
    purposes = {p: titles.get(p, p) for p in report.purposes}
    types = {str(k.value): str(v) for k, v in REQUEST_TYPE_LABELS.items()}
    reasons = {str(k.value): str(v) for k, v in REASON_LABELS.items()}
    window = RATE_WINDOW.get(len(weeks), 1)
    charts = [
        rate_lines("consent-rate", _("Opt-in rate per purpose, by week") if window == 1 else
                   _("Opt-in rate per purpose, rolling %(weeks)s weeks", weeks=window),
                   weeks, {p: report.opt_in_rate(p, window=window) for p in purposes},
                   labels=purposes,
                   versions=versions,
                   empty_sentence=_("No consent choices were recorded in this period.")),
        stacked_bars("withdrawals", _("Consent withdrawals per week, by purpose"), weeks,
                     {p: report.weekly("consent_withdrawn", p) for p in purposes},
                     labels=purposes, versions=versions,
                     empty_sentence=_("No consent was withdrawn in this period.")),
        stacked_bars("requests", _("Data-subject requests received per week, by type"), weeks,
                     {t: report.weekly(agg.REQUESTS_RECEIVED, t)
                      for t in dict.fromkeys([*types, *report.dimensions(agg.REQUESTS_RECEIVED)])},
                     labels=types,
                     empty_sentence=_("No requests were received in this period.")),
        stacked_bars("reveals", _("Staff reveals per week, by reason"), weeks,
                     {r: report.weekly(agg.REVEALS_BY_REASON, r)
                      for r in dict.fromkeys([*reasons, *report.dimensions(agg.REVEALS_BY_REASON)])},
                     labels=reasons,
                     empty_sentence=_("No field was revealed in this period.")),
        ranked_bars("reveals-by-staff", _("Reveals per staff member"),
                    [(cards[s.staff_id].display_name if s.staff_id in cards else s.staff_id,
                      s.count, s.flagged) for s in report.staff_reveals],
                    value_label=_("Reveals"),
                    flag_label=_("Above %(factor)sx the median", factor=REVEAL_OUTLIER_FACTOR),
                    empty_sentence=_("No field was revealed in this period.")),
        ranked_bars("api-use", _("Audited API calls per client"),
                    sorted(((report.api_clients.get(c, c), report.total(agg.API_CALLS, c), False)
                            for c in report.dimensions(agg.API_CALLS)),
                           key=lambda item: (-item[1], item[0])),
                    value_label=_("Calls"),
                    empty_sentence=_("No API client called in this period.")),
        stacked_bars("gpc", _("Global Privacy Control signals honoured per week, by purpose"),
                     weeks,
                     {p: report.weekly(agg.CONSENT_GPC, p)
                      for p in dict.fromkeys([*purposes, *report.dimensions(agg.CONSENT_GPC)])},
                     labels=purposes,
                     empty_sentence=_("No Global Privacy Control signal was honoured in this "
                                      "period.")),
    ]
    return {chart.id: chart for chart in charts}


def _period_error(errors: dict[str, list[str]]):
    return render_template("staff/dashboard.html", errors=errors.get("weeks", []), weeks=None,
                           periods=PERIODS, report=None, charts={}), 400


def _figures(weeks: int, now: dt.datetime) -> tuple:
    """The period's report, the staff cards its per-staff chart names, and its charts."""
    report = dashboard_report(db.session, today=now.date(), weeks=weeks, now=now)
    cards = staff_directory(s.staff_id for s in report.staff_reveals)
    return report, cards, build_charts(report, today=now.date(), cards=cards)


@bp.get("/dashboard")
@requires(Permission.DASHBOARD)
def dashboard():
    """Consent, requests, staff access and API use over the last 4, 12 or 52 weeks."""
    try:
        weeks = parse_period(request.args.get("weeks"))
    except ValidationFailed as exc:
        return _period_error(exc.errors)
    now = utcnow()
    report, cards, charts = _figures(weeks, now)
    return render_template(
        "staff/dashboard.html", errors=[], weeks=weeks, periods=PERIODS, report=report,
        charts=charts, cards=cards, purpose_titles=_purpose_titles(now.date()),
        can_audit=can(g.staff.role, Permission.AUDIT),
        can_queue=can(g.staff.role, Permission.CUSTOMERS), reveal_action=actions.CUSTOMER_REVEAL)


@bp.get("/dashboard/<chart_id>.csv")
@requires(Permission.DASHBOARD)
def dashboard_csv(chart_id: str):
    """One chart's table as CSV, for the same period."""
    try:
        weeks = parse_period(request.args.get("weeks"))
    except ValidationFailed as exc:
        return _period_error(exc.errors)
    chart = _figures(weeks, utcnow())[2].get(chart_id)
    if chart is None:
        return render_error(404)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([spreadsheet_cell(c) for c in chart.table.columns])
    writer.writerows([[spreadsheet_cell(c) for c in row] for row in chart.table.rows])
    return Response(buffer.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{chart_id}-{weeks}-weeks.csv"'})

