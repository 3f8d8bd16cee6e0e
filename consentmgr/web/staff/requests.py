"""The data-subject request queue: agents file and follow, the DPO decides.

Agents (``customers``) see the queue and a request's page, file a request
for a caller after checking who they are, record that check, and close a
rectification they carried out. Everything that answers for the controller
(approve, refuse, extend, weigh an objection, legal holds, the export) needs
``requests-decide``: the DPO's alone. A form with bad input is answered 422
with its errors on the inputs, and its service's unit of work has changed
nothing.
"""

from __future__ import annotations

from typing import Any, Callable

from flask import (
    Response,
    flash,
    g,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice

from consentmgr.consent.services import NoPolicyPublished, catalogue
from consentmgr.customers.services import CustomerNotFound, get_customer
from consentmgr.errors import ValidationFailed
from consentmgr.i18n import _, lazy_gettext
from consentmgr.requests import services
from consentmgr.requests.export import export_customer, export_filename, record_export
from consentmgr.requests.models import (
    OPEN_STATUSES,
    RequestChannel,
    RequestStatus,
    RequestType,
)
from consentmgr.runtime import runtime
from consentmgr.sql import utcnow
from consentmgr.staff import access
from consentmgr.staff.permissions import Permission, can, record_access_denied
from consentmgr.unit_of_work import unit_of_work
from consentmgr.web.errors import render_error
from consentmgr.web.forms import attach_errors, in_page_language
from consentmgr.web.staff import bp
from consentmgr.web.staff.auth import request_info, requires
from consentmgr.web.staff.forms import (
    REFUSAL_LABELS,
    REQUEST_STATUS_LABELS,
    REQUEST_TYPE_LABELS,
    CompleteForm,
    ConfirmForm,
    ExtendForm,
    FileRequestForm,
    IdentityForm,
    LegalHoldForm,
    ObjectionDecisionForm,
    RefuseForm,
    RequestFilterForm,
)
from consentmgr.web.staff.navigation import deliberate_navigation
from consentmgr.web.staff.request_pages import (
    queue_rows,
    request_history,
    urgency,
)

PAGE_SIZE = 50
SOON_DAYS = 7  # due within a week: highlighted in the queue

# One form per action on the request page; the prefix keeps their ids apart.
FORMS: dict[str, type[FlaskForm]] = {
    "identity": IdentityForm, "approve": ConfirmForm, "complete": CompleteForm,
    "refuse": RefuseForm, "extend": ExtendForm, "objection": ObjectionDecisionForm,
    "hold": LegalHoldForm, "lift": ConfirmForm, "export": ConfirmForm,
    "unrestrict": ConfirmForm,
}


# Where a request came from, and the state of the customer's record, as staff say it.
CHANNEL_LABELS = {
    RequestChannel.PORTAL: lazy_gettext("portal"), RequestChannel.STAFF: lazy_gettext("staff"),
    RequestChannel.API: lazy_gettext("api"), RequestChannel.INACTIVITY: lazy_gettext("inactivity"),
}
RECORD_STATUS_LABELS = {"active": lazy_gettext("active"), "restricted": lazy_gettext("restricted"),
                        "erased": lazy_gettext("erased")}


@bp.app_template_global("request_labels")
def request_labels() -> dict[str, dict]:
    """In templates: what staff call request types, statuses and refusal reasons."""
    return {"type": REQUEST_TYPE_LABELS, "status": REQUEST_STATUS_LABELS,
            "refusal": REFUSAL_LABELS, "record_status": RECORD_STATUS_LABELS}


@bp.app_template_global("channel_label")
def channel_label(channel: Any) -> Any:
    """In templates: where a request was filed, in the page's language."""
    try:
        return CHANNEL_LABELS[RequestChannel(channel)]
    except ValueError:
        return channel


def _text(field: Any) -> str:
    """A text input's value, stripped ("" when it was not sent)."""
    return (field.data or "").strip()


# ------------------------------------------------------------------ the queue


@bp.get("/requests")
@requires(Permission.CUSTOMERS)
def request_queue():
    """Requests by deadline; filter by status, type, due within N days, overdue."""
    form = RequestFilterForm(request.args)
    if not form.validate():
        return _queue_page(form, 422)
    status = form.status.data or None
    filters: dict[str, Any] = {
        "status": None if status == "all" else status or list(OPEN_STATUSES),
        "type": form.type.data or None, "overdue": True if form.overdue.data else None,
        "due_within_days": form.due_within_days.data}
    try:
        if form.customer.data:
            filters["customer"] = get_customer(_text(form.customer))
        page = form.page.data or 1
        found = services.list_requests(**filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        total = services.count_requests(**filters)
    except CustomerNotFound:
        form.customer.errors.append(_("No customer has this id."))
        return _queue_page(form, 422)
    except ValidationFailed as exc:
        attach_errors(form, in_page_language(exc.errors))
        return _queue_page(form, 422)
    return _queue_page(form, rows=queue_rows(found, now=utcnow(), soon_days=SOON_DAYS),
                       total=total, page=page, pages=max(1, -(-total // PAGE_SIZE)))


def _queue_page(form: RequestFilterForm, status: int = 200, **found: Any):
    context = {"rows": [], "total": 0, "page": 1, "pages": 1, **found}
    return render_template("staff/requests.html", form=form, soon_days=SOON_DAYS,
                           **context), status


# ------------------------------------------------------------------ filing for a caller


@bp.route("/requests/new", methods=["GET", "POST"])
@requires(Permission.CUSTOMERS)
def file_request():
    """File a request a caller made by phone or letter, with how their identity was checked."""
    form = FileRequestForm(customer_id=request.args.get("customer_id", ""))
    form.purpose.choices = _objectable_purposes()
    if not form.validate_on_submit():
        return render_template("staff/request_new.html", form=form), 422 if form.errors else 200
    try:
        customer = get_customer(_text(form.customer_id))
    except CustomerNotFound:
        form.customer_id.errors.append(_("No customer has this id."))
        return render_template("staff/request_new.html", form=form), 422
    try:
        with unit_of_work():
            filed = services.file_request(
                customer, form.type.data or "", actor=g.staff.actor, channel="staff",
                purpose=form.purpose.data or None, notes=_text(form.notes) or None,
                on_behalf=True, identity_check=_text(form.identity_check) or None)
            filed_id = str(filed.id)
    except ValidationFailed as exc:
        attach_errors(form, in_page_language(exc.errors))
        return render_template("staff/request_new.html", form=form), 422
    flash(_("The request is filed; the customer is mailed an acknowledgement with the due date."),
          "info")
    return redirect(url_for("staff.request_page", request_id=filed_id))


def _objectable_purposes() -> list[SelectChoice]:
    # GDPR Art. 21(1): an objection is to a use based on legitimate interests.
    try:
        purposes = catalogue().purposes.values()
    except NoPolicyPublished:
        purposes = []
    return [SelectChoice("", _("None (not an objection)"))] + [
        SelectChoice(p.slug, p.title) for p in purposes if p.legal_basis == "legitimate-interest"]


# ------------------------------------------------------------------ one request


def _request_page(request_id: str, failed: dict[str, FlaskForm] | None = None,
                  status: int = 200):
    # Opening the page shows the customer (masked): recorded, even when it
    # answers a refused form (422), as on the consent screen.
    with unit_of_work():
        req = services.get_request(request_id)
        customer = access.view_customer(req.customer_id, actor=g.staff.actor, screen="request",
                                        **request_info())
        masked = access.masked_record(customer)
        holds = services.active_holds(customer)
        history = request_history(req)
    forms = {name: form_class(prefix=f"{name}-", formdata=None)
             for name, form_class in FORMS.items()}
    forms.update(failed or {})
    return render_template("staff/request.html", req=req, record=masked, holds=holds,
                           history=history, forms=forms,
                           urgency=urgency(req, now=utcnow(), soon_days=SOON_DAYS)), status


@bp.get("/requests/<request_id>")
@requires(Permission.CUSTOMERS)
@deliberate_navigation(lazy_gettext("this request"))
def request_page(request_id: str):
    """The request, its history, the customer (masked), and the forms to act on it."""
    return _request_page(request_id)


def _act(request_id: str, name: str, act: Callable[[Any, FlaskForm], str]):
    """Parse the ``name`` form, run ``act(req, form)`` in a unit of work, flash its message."""
    form = FORMS[name](prefix=f"{name}-")
    if form.validate_on_submit():
        try:
            with unit_of_work():
                message = act(services.get_request(request_id), form)
        except ValidationFailed as exc:
            attach_errors(form, in_page_language(exc.errors))
        else:
            flash(message, "info")
            return redirect(url_for("staff.request_page", request_id=request_id))
    return _request_page(request_id, {name: form}, 422)


def _deny() -> Response:
    # Same as @requires: the refusal is on the record (Art. 32).
    with unit_of_work():
        record_access_denied(g.staff.actor, screen=request.endpoint or "unknown", **request_info())
    return render_error(403)


@bp.post("/requests/<request_id>/identity")
@requires(Permission.CUSTOMERS)
def verify_identity(request_id: str):
    """Record how the requester's identity was checked: the request can go ahead."""
    def act(req, form):
        services.verify_identity(
            req, actor=g.staff.actor, identity_check=_text(form.identity_check),
            auto_approve_erasure=runtime().settings.requests_auto_approve_erasure)
        return _("Identity recorded as checked.")
    return _act(request_id, "identity", act)


@bp.post("/requests/<request_id>/complete")
@requires(Permission.CUSTOMERS)
def complete(request_id: str):
    """Close a request staff carried out; agents may close rectifications only."""
    if (services.get_request(request_id).type != RequestType.RECTIFICATION
            and not can(g.staff.role, Permission.REQUESTS_DECIDE)):
        return _deny()

    def act(req, form):
        outcome = "rectified" if req.type == RequestType.RECTIFICATION else "completed"
        services.complete_request(req, actor=g.staff.actor, outcome=outcome,
                                  note=_text(form.note) or None)
        return _("The request is completed; the customer is told.")
    return _act(request_id, "complete", act)


@bp.post("/requests/<request_id>/approve")
@requires(Permission.REQUESTS_DECIDE)
def approve(request_id: str):
    """The DPO's approval (an erasure is carried out at once)."""
    def act(req, form):
        services.approve_request(req, actor=g.staff.actor)
        if req.status == RequestStatus.COMPLETED:
            return _("Approved: the request is now completed.")
        if req.status == RequestStatus.IN_PROGRESS:
            return _("Approved: the request is now in progress.")
        return _("Approved: the request is now “%(status)s”.",
                 status=REQUEST_STATUS_LABELS[req.status])
    return _act(request_id, "approve", act)


@bp.post("/requests/<request_id>/refuse")
@requires(Permission.REQUESTS_DECIDE)
def refuse(request_id: str):
    """Refuse with a reason code; the customer is told why and where to complain."""
    def act(req, form):
        services.refuse_request(req, actor=g.staff.actor, reason_code=form.reason_code.data or "",
                                explanation=_text(form.explanation) or None)
        return _("Refused; the customer is told the reason and their right to complain.")
    return _act(request_id, "refuse", act)


@bp.post("/requests/<request_id>/extend")
@requires(Permission.REQUESTS_DECIDE)
def extend(request_id: str):
    """Extend the deadline by one or two months, with the reason told to the customer."""
    def act(req, form):
        months = (form.months.data or "").strip()
        if not months.isdigit():
            raise ValidationFailed({"months": [_("Enter 1 or 2.")]})
        services.extend_request(req, actor=g.staff.actor, months=int(months),
                                reason=_text(form.reason))
        return _("Extended; the customer is told the new date and why.")
    return _act(request_id, "extend", act)


@bp.post("/requests/<request_id>/objection")
@requires(Permission.REQUESTS_DECIDE)
def decide_objection(request_id: str):
    """Weigh an objection to a legitimate-interest purpose (Art. 21(1))."""
    def act(req, form):
        decision = form.decision.data
        if decision not in ("upheld", "compelling-grounds"):
            raise ValidationFailed({"decision": [_("Choose whether the objection stands.")]})
        services.decide_objection(req, actor=g.staff.actor, upheld=decision == "upheld",
                                  reason=_text(form.reason))
        return _("Decided; the customer is told the decision and the reason.")
    return _act(request_id, "objection", act)


@bp.post("/requests/<request_id>/legal-holds")
@requires(Permission.REQUESTS_DECIDE)
def place_hold(request_id: str):
    """Hold the customer's erasure back under an Art. 17(3) exception."""
    def act(req, form):
        services.place_legal_hold(get_customer(req.customer_id), actor=g.staff.actor,
                                  exception=form.exception.data or "",
                                  note=_text(form.note) or None)
        return _("Legal hold placed: the customer's data will not be erased while it stands.")
    return _act(request_id, "hold", act)


@bp.post("/requests/<request_id>/legal-holds/<hold_id>/lift")
@requires(Permission.REQUESTS_DECIDE)
def lift_hold(request_id: str, hold_id: str):
    """Lift one of the customer's legal holds."""
    def act(req, form):
        hold = services.get_legal_hold(hold_id)
        if hold.customer_id != req.customer_id:
            raise services.LegalHoldNotFound()  # another customer's hold: not on this page
        services.lift_legal_hold(hold, actor=g.staff.actor)
        return _("Legal hold lifted.")
    return _act(request_id, "lift", act)


@bp.post("/requests/<request_id>/lift-restriction")
@requires(Permission.REQUESTS_DECIDE)
def lift_restriction(request_id: str):
    """End the customer's restriction of processing; they are mailed first (Art. 18(3))."""
    def act(req, form):
        lifted = services.lift_restriction_request(get_customer(req.customer_id),
                                                   actor=g.staff.actor)
        return (_("Restriction lifted: the customer has been told.") if lifted
                else _("This record was not restricted."))
    return _act(request_id, "unrestrict", act)


# ------------------------------------------------------------------ the export


@bp.post("/customers/<customer_id>/export")
@requires(Permission.REQUESTS_DECIDE)
def export(customer_id: str):
    """The customer's whole export as a ZIP, recorded before the first byte is sent."""
    if not ConfirmForm().validate_on_submit():
        return render_error(400)
    customer = get_customer(customer_id)
    with unit_of_work():
        record_export(customer, actor=g.staff.actor, channel="staff")
    # Raises for an erased record before anything is sent; the ZIP is written
    # as the body streams, in the stream's own session (see export_customer).
    chunks = export_customer(customer, receipt_signing_key=runtime().settings.receipt_signing_key)
    return Response(
        stream_with_context(chunks),
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{export_filename(customer)}"'})
