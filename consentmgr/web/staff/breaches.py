"""The breach register (GDPR Art. 33/34): record, the 72-hour clock, notify, tell customers.

The DPO's alone (``breaches``): customers are selected from the audit trail
and mailed from here. Each form with bad input is answered 422 with its
errors on the inputs, and nothing is saved (the service raised before its
unit of work committed). The countdown is rendered by the server: the page
works without script, and says "overdue" in words.
"""

from __future__ import annotations

from typing import Any

from flask import flash, g, redirect, render_template, url_for
from flask_wtf import FlaskForm

from consentmgr.breaches import services
from consentmgr.breaches.models import CustomerNotice
from consentmgr.errors import ValidationFailed
from consentmgr.extensions import db
from consentmgr.i18n import _, lazy_gettext
from consentmgr.sql import utcnow
from consentmgr.staff.permissions import Permission
from consentmgr.unit_of_work import unit_of_work
from consentmgr.web.forms import attach_errors
from consentmgr.web.staff import bp
from consentmgr.web.staff.auth import request_info, requires
from consentmgr.web.staff.breach_forms import (
    AuthorityForm,
    BreachForm,
    NoticeDecisionForm,
    NotifyForm,
)
from consentmgr.web.forms import in_page_language

FORMS: dict[str, type[FlaskForm]] = {
    "authority": AuthorityForm, "decision": NoticeDecisionForm, "notify": NotifyForm}

# Whether the people affected must be told (Art. 34), as the register says it.
NOTICE_LABELS = {
    CustomerNotice.UNDECIDED: lazy_gettext("undecided"),
    CustomerNotice.REQUIRED: lazy_gettext("required"),
    CustomerNotice.NOT_REQUIRED: lazy_gettext("not required"),
}


@bp.app_template_global("notice_label")
def notice_label(notice: CustomerNotice) -> Any:
    """In templates: whether the customers affected must be told, in the page's language."""
    return NOTICE_LABELS.get(notice, notice.value.replace("-", " "))


def _register_page(form: BreachForm, status: int = 200):
    now = utcnow()
    rows = [(b, services.countdown(b, now)) for b in services.list_breaches()]
    return render_template("staff/breaches.html", form=form, rows=rows), status


@bp.route("/breaches", methods=["GET", "POST"])
@requires(Permission.BREACHES)
def breach_register():
    """The register, its clocks, and the form to record a breach."""
    form = BreachForm()
    if not form.validate_on_submit():
        return _register_page(form, 422 if form.errors else 200)
    try:
        with unit_of_work():
            breach = services.record_breach(
                {name: form[name].data for name in (
                    "discovered_at", "description", "data_categories", "approx_people",
                    "consequences", "measures")},
                actor=g.staff.actor, **request_info())
            breach_id = str(breach.id)
    except ValidationFailed as exc:
        attach_errors(form, in_page_language(exc.errors))
        return _register_page(form, 422)
    flash(_("The breach is in the register. The authority must be notified within 72 hours "
            "of its discovery."), "info")
    return redirect(url_for("staff.breach_page", breach_id=breach_id))


def _breach_page(breach_id: str, failed: dict[str, FlaskForm] | None = None, status: int = 200,
                 **extra: Any):
    breach = services.get_breach(breach_id)
    forms = {name: cls(prefix=f"{name}-", formdata=None) for name, cls in FORMS.items()}
    forms.update(failed or {})
    return render_template("staff/breach.html", breach=breach, clock=services.countdown(breach),
                           told=services.customers_told(breach), forms=forms,
                           runs=services.notice_runs(db.session, breach), **extra), status


@bp.get("/breaches/<breach_id>")
@requires(Permission.BREACHES)
def breach_page(breach_id: str):
    """One breach: its facts, the 72-hour clock, and the forms to act on it."""
    return _breach_page(breach_id)


def _act(breach_id: str, name: str, act, message: str):
    form = FORMS[name](prefix=f"{name}-")
    if form.validate_on_submit():
        try:
            with unit_of_work():
                act(services.get_breach(breach_id), form)
        except ValidationFailed as exc:
            attach_errors(form, in_page_language(exc.errors))
        else:
            flash(str(message), "info")
            return redirect(url_for("staff.breach_page", breach_id=breach_id))
    return _breach_page(breach_id, {name: form}, 422)


@bp.post("/breaches/<breach_id>/authority")
@requires(Permission.BREACHES)
def breach_authority(breach_id: str):
    """Record when and how the supervisory authority was notified."""
    def act(breach, form):
        services.record_authority_notification(
            breach, notified_at=form.notified_at.data, reference=form.reference.data,
            actor=g.staff.actor, **request_info())
    return _act(breach_id, "authority", act,
                lazy_gettext("The notification of the authority is recorded."))


@bp.post("/breaches/<breach_id>/decision")
@requires(Permission.BREACHES)
def breach_decision(breach_id: str):
    """Decide whether the people affected must be told."""
    def act(breach, form):
        answer = {"yes": True, "no": False}.get(form.required.data or "")
        services.decide_customer_notice(breach, required=answer, reason=form.reason.data,
                                        actor=g.staff.actor, **request_info())
    return _act(breach_id, "decision", act, lazy_gettext("The decision is recorded."))


@bp.post("/breaches/<breach_id>/notify")
@requires(Permission.BREACHES)
def breach_notify(breach_id: str):
    """Preview how many customers a staff account opened in a window; on confirmation, ask the
    worker to mail them (the request records the run and enqueues its job, nothing more)."""
    form = NotifyForm(prefix="notify-")
    if not form.validate_on_submit():
        return _breach_page(breach_id, {"notify": form}, 422)
    try:
        with unit_of_work() as session:
            breach = services.get_breach(breach_id)
            if form.confirm.data != "yes":
                found = services.count_affected_customers(
                    form.staff_account.data, form.since.data, form.until.data)
                return _breach_page(breach_id, {"notify": form}, preview=found)
            services.request_notice(session, breach, form.staff_account.data, form.since.data,
                                    form.until.data, actor=g.staff.actor, **request_info())
    except ValidationFailed as exc:
        attach_errors(form, in_page_language(exc.errors))
        return _breach_page(breach_id, {"notify": form}, 422)
    flash(_("The customers are being mailed by the background worker; this page shows how far "
            "it got."), "info")
    return redirect(url_for("staff.breach_page", breach_id=breach_id))
