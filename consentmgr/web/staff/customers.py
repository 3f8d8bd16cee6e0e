"""Customer screens for agents and the DPO: find, view masked, reveal, record consent.

Values are masked unless revealed with a reason; a revealed value is in
that one response only (``Cache-Control: no-store`` on every staff page),
so reloading the record shows it masked again. Searches use POST so that
an email address never appears in a URL, a server log or the history.
Screens whose opening is recorded open only on a deliberate navigation
(:mod:`.navigation`): a link on another site cannot record a view in an
agent's name.
"""

from __future__ import annotations

from flask import flash, g, redirect, render_template, url_for

from consentmgr.consent.services import (
    Evidence,
    NoPolicyPublished,
    UnknownPurpose,
    consent_overview,
    grant_consent,
    object_to_processing,
    withdraw_consent,
)
from consentmgr.customers.services import get_customer
from consentmgr.errors import DomainError, ValidationFailed
from consentmgr.i18n import _, lazy_gettext
from consentmgr.staff import access
from consentmgr.staff.permissions import Permission
from consentmgr.unit_of_work import unit_of_work
from consentmgr.web.staff import bp
from consentmgr.web.staff.auth import request_info, requires
from consentmgr.web.staff.forms import ConsentForm, RevealForm, SearchForm
from consentmgr.web.staff.navigation import deliberate_navigation

CONSENT_ACTIONS = {
    "grant": (grant_consent,
              lazy_gettext("Consent given; the customer's consent record now shows it.")),
    "withdraw": (withdraw_consent,
                 lazy_gettext("Consent withdrawn; the customer's consent record now shows it.")),
    "object": (object_to_processing,
               lazy_gettext("Objection recorded; the customer's consent record now shows it.")),
}


def _search_page(form: SearchForm, status: int = 200, **context):
    return render_template("staff/search.html", form=form, **context), status


@bp.get("/customers")
@requires(Permission.CUSTOMERS)
def search():
    """The search form."""
    return _search_page(SearchForm())


@bp.post("/customers")
@requires(Permission.CUSTOMERS)
def search_results():
    """Find one customer by exact email or id; the result is masked."""
    form = SearchForm()
    if not form.validate_on_submit():
        return _search_page(form, 422)
    try:
        with unit_of_work():
            found = access.find_customer(form.query.data, actor=g.staff.actor, **request_info())
            result = access.masked_record(found) if found is not None else None
    except ValidationFailed as exc:
        form.query.errors.extend(exc.errors.get("query", [str(exc)]))
        return _search_page(form, 422)
    return _search_page(form, searched=True, result=result)


@bp.get("/customers/<customer_id>")
@requires(Permission.CUSTOMERS)
@deliberate_navigation(lazy_gettext("this customer's record"))
def record(customer_id: str):
    """The record, masked; opening it is recorded (``customer.view``), from this site only."""
    with unit_of_work():
        customer = access.view_customer(customer_id, actor=g.staff.actor, **request_info())
        masked = access.masked_record(customer)
    return render_template("staff/record.html", record=masked)


def _field_spec(field: str) -> access.FieldSpec:
    spec = access.FIELDS.get(field)
    if spec is None:
        raise access.UnknownField()
    return spec


@bp.route("/customers/<customer_id>/reveal/<field>", methods=["GET", "POST"])
@requires(Permission.CUSTOMERS)
def reveal(customer_id: str, field: str):
    """Ask for a reason; with one, show the value once (its audit entry committed first)."""
    spec = _field_spec(field)
    customer = get_customer(customer_id)
    record_id = str(customer.id)
    form = RevealForm()
    if form.validate_on_submit():
        try:
            # Durable before it is shown: if the commit fails, the value is never sent.
            # A refusal is on the record too, as denied (RevealRefused keeps_record).
            with unit_of_work():
                revealed = access.reveal_field(
                    customer, field, actor=g.staff.actor, reason_code=form.reason_code.data,
                    justification=form.justification.data,
                    ticket_reference=form.ticket_reference.data, **request_info())
        except access.RevealRefused as exc:
            for name, messages in exc.errors.items():
                getattr(form, name).errors.extend(messages)
            return render_template("staff/reveal.html", form=form, spec=spec,
                                   customer_id=record_id), 422
        return render_template("staff/revealed.html", revealed=revealed, customer_id=record_id)
    status = 422 if form.errors else 200
    return render_template("staff/reveal.html", form=form, spec=spec, customer_id=record_id), status


def _consent_page(customer_id: str, forms: dict[str, ConsentForm] | None = None,
                  status: int = 200):
    # Opening the page is recorded, even when it answers a refused form (422).
    with unit_of_work():
        customer = access.view_customer(customer_id, actor=g.staff.actor, screen="consent",
                                        **request_info())
        try:
            choices = consent_overview(customer)
        except NoPolicyPublished:
            choices = []
        masked = access.masked_record(customer)
    forms = forms or {}
    for choice in choices:
        forms.setdefault(choice.info.slug, ConsentForm(prefix=choice.info.slug, formdata=None))
    return render_template("staff/consent.html", record=masked, choices=choices,
                           forms=forms), status


@bp.get("/customers/<customer_id>/consent")
@requires(Permission.CUSTOMERS)
@deliberate_navigation(lazy_gettext("this customer's consent page"))
def consent(customer_id: str):
    """The customer's consent per purpose, with a form to record a choice made by phone."""
    return _consent_page(customer_id)


@bp.post("/customers/<customer_id>/consent/<purpose>")
@requires(Permission.CUSTOMERS)
def record_consent(customer_id: str, purpose: str):
    """Record a grant, withdrawal or objection on the customer's behalf (channel ``staff``)."""
    customer = get_customer(customer_id)
    form = ConsentForm(prefix=purpose)
    if form.validate_on_submit():
        chosen = CONSENT_ACTIONS.get(form.action.data or "")
        if chosen is None:
            form.action.errors.append(_("Choose what the customer decided."))
        else:
            record_choice, done = chosen
            try:
                with unit_of_work():
                    record_choice(customer, purpose, actor=g.staff.actor, channel="staff",
                                  evidence=Evidence(note=form.note.data.strip()))
            except UnknownPurpose:
                raise  # not a purpose of the policy in effect: the 404 page
            except DomainError as exc:
                form.note.errors.append(str(exc))
            else:
                flash(str(done), "info")
                return redirect(url_for("staff.consent", customer_id=customer_id))
    return _consent_page(customer_id, {purpose: form}, 422)
