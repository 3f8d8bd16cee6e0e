"""The customer's data-subject requests: download my data, file, follow, withdraw.

GDPR Art. 12(2): the controller facilitates the exercise of the rights, so
every right is a form here, answered through the same request services the
staff screens and the API use. Access and portability need no person: the
export is handed out at once, as a completed request (Arts. 15(3), 20).
"""

from __future__ import annotations


from flask import (
    Response,
    flash,
    g,
    redirect,
    render_template,
    stream_with_context,
    url_for,
)

from consentmgr.customers.models import Customer
from consentmgr.customers.signin import portal_actor
from consentmgr.errors import ValidationFailed
from consentmgr.i18n import _, lazy_gettext
from consentmgr.requests.export import export_customer, export_filename, record_export
from consentmgr.requests.models import RequestStatus, RequestType
from consentmgr.requests.notices import OUTCOME_TEXTS, REFUSAL_TEXTS
from consentmgr.requests.services import (
    customer_request,
    file_request,
    withdraw_request,
)
from consentmgr.runtime import runtime
from consentmgr.unit_of_work import unit_of_work
from consentmgr.web.portal import bp, pages
from consentmgr.web.portal.auth import customer_required
from consentmgr.web.portal.forms import RequestForm

# Handed out at once: the export is the answer (Arts. 15(3), 20).
SELF_SERVICE = (RequestType.ACCESS, RequestType.PORTABILITY)

FILED = {
    RequestStatus.COMPLETED: lazy_gettext("Done: your request is complete."),
    RequestStatus.IN_PROGRESS: lazy_gettext("We have received your request and are working on it."),
}


def _requests_page(form: RequestForm | None = None, status: int = 200):
    page = pages.requests_page(g.customer)
    form = (form or RequestForm(formdata=None)).with_purposes(page.objectable)
    return render_template("portal/requests.html", page=page, form=form,
                           outcome_texts=OUTCOME_TEXTS, refusal_texts=REFUSAL_TEXTS), status


def _export(customer: Customer, kind: RequestType) -> Response:
    """Record the request and the hand-out, committed, then stream the ZIP."""
    actor = portal_actor(customer)
    with unit_of_work():
        file_request(customer, kind, actor=actor, channel="portal")
        record_export(customer, actor=actor, channel="portal")
    # Raises for an erased record before anything is sent; the ZIP is written
    # as the body streams, in the stream's own session (see export_customer).
    chunks = export_customer(customer, receipt_signing_key=runtime().settings.receipt_signing_key)
    return Response(
        stream_with_context(chunks),
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{export_filename(customer)}"'})


@bp.post("/download")
@customer_required
def download():
    """"Download my data": one click, the whole export as a ZIP (a completed access request)."""
    return _export(g.customer, RequestType.ACCESS)


@bp.get("/requests")
@customer_required
def requests():
    """The customer's requests with their deadlines, and a form for a new one."""
    return _requests_page()


@bp.post("/requests")
@customer_required
def new_request():
    """File a request; bad input (an unknown type, no purpose to object to) changes nothing."""
    form = RequestForm()
    kind = form.type.data or ""
    notes = form.notes_text()
    if kind in SELF_SERVICE and not form.notes.errors:
        return _export(g.customer, RequestType(kind))
    if not form.notes.errors:
        try:
            with unit_of_work():
                filed = file_request(g.customer, kind, actor=portal_actor(g.customer),
                                     channel="portal", purpose=form.purpose.data or None,
                                     notes=notes)
        except ValidationFailed as exc:
            form.attach_errors(exc.errors)
        else:
            return _filed(filed.status)
    return _requests_page(form, 422)


@bp.post("/requests/erasure")
@customer_required
def erase():
    """The erasure button under the statement of what is deleted and kept: the second click."""
    with unit_of_work():
        filed = file_request(g.customer, RequestType.ERASURE, actor=portal_actor(g.customer),
                             channel="portal")
    return _filed(filed.status)


def _filed(status: str):
    message = FILED.get(status) or _("We have received your request. We have emailed you a "
                                      "confirmation with the date you will have our answer by.")
    flash(str(message), "success")
    return redirect(url_for("portal.requests", _anchor="your-requests"))


@bp.post("/requests/<request_id>/withdraw")
@customer_required
def withdraw(request_id: str):
    """Withdraw one of the customer's own open requests."""
    with unit_of_work():
        withdraw_request(customer_request(g.customer, request_id), actor=portal_actor(g.customer))
    flash(_("You have withdrawn your request. Nothing more will be done about it."), "success")
    return redirect(url_for("portal.requests", _anchor="your-requests"))
