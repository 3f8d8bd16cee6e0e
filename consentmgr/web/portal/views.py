"""Portal views: parse the input, call one service in a unit of work, render."""

from __future__ import annotations

import datetime as dt

from flask import (
    Response,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import refresh

from consentmgr.consent import receipts
from consentmgr.consent.services import (
    get_event,
    grant_consent,
    object_to_processing,
    purpose_info,
    withdraw_consent,
)
from consentmgr.crypto.signing import SignatureInvalid
from consentmgr.customers import email_change
from consentmgr.customers.services import rectify_customer
from consentmgr.customers.signin import (
    LINK_LIFETIME,
    SignInLinkProblem,
    check_sign_in_link,
    portal_actor,
    rate_limit_key,
    redeem_sign_in_link,
    request_sign_in_link,
)
from consentmgr.errors import ValidationFailed
from consentmgr.extensions import limiter
from consentmgr.i18n import LANGUAGE_NAMES as PAGE_LANGUAGES
from consentmgr.i18n import _, current_language, lazy_gettext, supported
from consentmgr.policies.services import PolicyNotFound, current_version
from consentmgr.runtime import runtime
from consentmgr.sql import as_utc
from consentmgr.staff.access_log import staff_access_page
from consentmgr.unit_of_work import unit_of_work
from consentmgr.web.portal import bp, pages
from consentmgr.web.portal.auth import (
    client_evidence,
    customer_required,
    end_session,
    load_signed_in_customer,
    start_session,
)
from consentmgr.web.portal.forms import (
    CHANNEL_NAMES,
    FIELD_LABELS,
    LANGUAGE_NAMES,
    DetailsForm,
    EmailChangeForm,
    SignInForm,
    VerifyReceiptForm,
)

bp.before_request(load_signed_in_customer)

NAVIGATION = [
    ("portal.my_data", lazy_gettext("My data")),
    ("portal.details", lazy_gettext("Correct details")),
    ("portal.consents", lazy_gettext("Consents")),
    ("portal.access_log", lazy_gettext("Who accessed my data")),
    ("portal.requests", lazy_gettext("My requests")),
]

CHOICES = {
    # GDPR Art. 7(3): withdrawing is one click, exactly like giving consent.
    "grant": (grant_consent, lazy_gettext("You have given your consent to “%(title)s”.")),
    "withdraw": (withdraw_consent, lazy_gettext("You have withdrawn your consent to “%(title)s”.")),
    # GDPR Art. 21: objection to a legitimate-interest purpose.
    "object": (object_to_processing, lazy_gettext("Your objection to “%(title)s” is recorded. "
                                                  "We no longer use your data for it.")),
}


@bp.context_processor
def portal_context() -> dict[str, object]:
    """What every portal page shows: navigation, the policy version, the GPC notice."""
    try:
        policy = current_version()
    except PolicyNotFound:
        policy = None
    return {"portal_nav": NAVIGATION, "portal_policy": policy,
            "customer": g.get("customer"), "gpc_notice": g.get("gpc_notice", False),
            "as_utc": as_utc, "receipt_time": _receipt_time, "language_names": LANGUAGE_NAMES,
            "channel_names": CHANNEL_NAMES}


def _receipt_time(epoch: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc)


@bp.after_request
def no_caching(response: Response) -> Response:
    """Portal pages hold personal data: shared caches and the back button must not keep them."""
    response.headers["Cache-Control"] = "no-store"
    return response


def _client_limit() -> str:
    return current_app.config["PORTAL_SIGN_IN_LIMIT_PER_CLIENT"]


def _address_limit() -> str:
    return current_app.config["PORTAL_SIGN_IN_LIMIT_PER_ADDRESS"]


def _submitted_address() -> str:
    return rate_limit_key(request.form.get("email", ""))


def _email_change_limit() -> str:
    return current_app.config["PORTAL_EMAIL_CHANGE_LIMIT"]


def _email_change_client_limit() -> str:
    return current_app.config["PORTAL_EMAIL_CHANGE_LIMIT_PER_CLIENT"]


def _signed_in_customer() -> str:
    return email_change.rate_limit_key(g.customer)


# ------------------------------------------------------------------ sign-in


@bp.route("/sign-in", methods=["GET", "POST"])
@limiter.limit(_client_limit, methods=["POST"])
@limiter.limit(_address_limit, key_func=_submitted_address, methods=["POST"])
def sign_in():
    """Ask for a sign-in link. The answer never says whether the address is known."""
    form = SignInForm()
    if form.validate_on_submit():
        address = form.validate_address()
        if address is not None:
            with unit_of_work():
                request_sign_in_link(address)
            # Redirect either way (and so answer the same): reloading the
            # answer page must not send another link.
            return redirect(url_for("portal.sign_in_sent"))
    status = 422 if form.email.errors else 200
    return render_template("portal/sign_in.html", form=form), status


@bp.get("/check-your-email")
def sign_in_sent():
    """The one answer to every well-formed request for a link."""
    minutes = int(LINK_LIFETIME.total_seconds() // 60)
    return render_template("portal/sign_in_sent.html", minutes=minutes)


@bp.route("/sign-in/<token>", methods=["GET", "POST"])
@limiter.limit(_client_limit, methods=["POST"])
def confirm_sign_in(token: str):
    """GET shows a button (mail scanners fetch links); only the POST signs in."""
    try:
        # A bad link's portal.sign-in-failed entry is kept (keeps_record).
        with unit_of_work():
            if request.method == "POST":
                customer = redeem_sign_in_link(token, client_address=request.remote_addr)
            else:
                check_sign_in_link(token)
    except SignInLinkProblem as problem:
        return _no_referrer(render_template("portal/link_problem.html", problem=problem,
                                            link_minutes=int(LINK_LIFETIME.total_seconds() // 60)),
                            problem.status)
    if request.method == "GET":
        return _no_referrer(render_template("portal/confirm_sign_in.html"))
    start_session(customer)
    g.customer = customer
    refresh()  # from here on in the customer's stated language, this message too
    flash(_("You are signed in."), "success")
    return redirect(url_for("portal.my_data"))


def _no_referrer(body: str, status: int = 200) -> Response:
    # The token is in this page's URL: links from the page must not pass it on.
    response = make_response(body, status)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.post("/sign-out")
def sign_out():
    """Sign out (POST, with a CSRF token, so no other site can sign a customer out)."""
    end_session()
    flash(_("You have signed out."), "success")
    return redirect(url_for("portal.sign_in"))


# ------------------------------------------------------------------ pages


@bp.get("/")
@customer_required
def my_data():
    """Everything we hold about the customer, and why (GDPR Art. 15)."""
    return render_template("portal/my_data.html", data=pages.my_data(g.customer))


@bp.route("/details", methods=["GET", "POST"])
@customer_required
def details():
    """Correct details and preferences (GDPR Art. 16); bad input changes nothing."""
    form = DetailsForm.for_customer(g.customer) if request.method == "GET" else DetailsForm()
    if form.validate_on_submit():
        try:
            with unit_of_work():
                changed = rectify_customer(g.customer, form.changes(g.customer),
                                           actor=portal_actor(g.customer))
        except ValidationFailed as exc:
            form.attach_errors(exc.errors)
        else:
            if "preferences" in changed:
                refresh()  # a new preferred language speaks at once, from this message on
            if changed:
                flash(_("Saved. You changed your %(fields)s.",
                        fields=_words([str(FIELD_LABELS.get(f, f)) for f in changed])), "success")
            else:
                flash(_("Nothing changed: these are the details we already hold."), "info")
            return redirect(url_for("portal.details"))
    status = 422 if form.error_list() else 200
    return render_template("portal/details.html", form=form, email_form=EmailChangeForm()), status


# One answer, whether or not the new address belongs to another customer.
EMAIL_CHANGE_ANSWER = lazy_gettext("We sent a confirmation link to the new address. Your email "
                                   "address changes when you open it; until then, sign-in links "
                                   "still go to your current address.")


@bp.post("/language")
@customer_required
def choose_language():
    """The footer's switcher, signed in: the choice becomes the stated preference, audited.

    A POST with a CSRF token, not the public switcher's link: it changes the
    customer's record (the same correction as on the details page), and a
    preference beats the browser's cookie, so only changing it changes the page.
    """
    code = request.form.get("language", "")
    if supported(code) != code:
        flash(_("We cannot show pages in that language. Choose one of: %(languages)s.",
                languages=", ".join(PAGE_LANGUAGES.values())), "error")
        return redirect(url_for("portal.my_data"))
    held = {"channels": [], "language": "en", "topics": [], **(g.customer.preferences or {})}
    try:
        with unit_of_work():
            rectify_customer(g.customer, {"preferences": {**held, "language": code}},
                             actor=portal_actor(g.customer))
    except ValidationFailed:
        flash(_("Your language could not be changed: correct your preferences on the details "
                "page first."), "error")
        return redirect(url_for("portal.details"))
    # The public switcher then remembers it for this browser too (the pages
    # outside the portal, and after signing out), and checks ``next``.
    return redirect(url_for("language.choose", code=code, next=request.form.get("next", "")),
                    code=303)


@bp.post("/details/email")
@customer_required
@limiter.limit(_email_change_client_limit)
@limiter.limit(_email_change_limit, key_func=_signed_in_customer)
def change_email():
    """Ask to change the email address: it changes only once the new address confirms."""
    form = EmailChangeForm()
    if form.validate_on_submit():
        try:
            with unit_of_work():
                email_change.request_email_change(g.customer, form.new_address(),
                                                  actor=portal_actor(g.customer))
        except ValidationFailed as exc:
            form.attach_errors(exc.errors)
        else:
            flash(str(EMAIL_CHANGE_ANSWER), "success")
            return redirect(url_for("portal.details"))
    return render_template("portal/details.html", form=DetailsForm.for_customer(g.customer),
                           email_form=form), 422


@bp.route("/email/confirm/<token>", methods=["GET", "POST"])
@limiter.limit(_email_change_client_limit, methods=["POST"])
def confirm_email_change(token: str):
    """GET shows a button (mail scanners fetch links); only the POST changes the address."""
    try:
        # A bad link's portal.email-change-failed entry is kept (keeps_record).
        with unit_of_work():
            if request.method == "POST":
                customer = email_change.confirm_email_change(
                    token, client_address=request.remote_addr)
            else:
                email_change.check_email_change_link(token)
    except email_change.EmailChangeProblem as problem:
        hours = int(email_change.EMAIL_CHANGE_LIFETIME.total_seconds() // 3600)
        return _no_referrer(render_template("portal/email_link_problem.html", problem=problem,
                                            link_hours=hours), problem.status)
    if request.method == "GET":
        return _no_referrer(render_template("portal/confirm_email_change.html"))
    flash(_("Your email address is changed. Sign-in links now go to the new address."), "success")
    signed_in = g.get("customer") is not None and g.customer.id == customer.id
    return redirect(url_for("portal.details" if signed_in else "portal.sign_in"))


def _words(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    return _("%(items)s and %(last)s", items=", ".join(items[:-1]), last=items[-1])


@bp.get("/consents")
@customer_required
def consents():
    """One control per purpose, none pre-set, and the history of choices."""
    return render_template("portal/consents.html", page=pages.consent_page(g.customer))


@bp.post("/consents/<purpose>/<any(grant, withdraw, object):choice>")
@customer_required
def choose(purpose: str, choice: str):
    """One click: give, withdraw or object, then back to the list with a message."""
    service, message = CHOICES[choice]
    with unit_of_work():
        # GDPR Art. 7(1): the notice recorded is the one shown, in the page's language.
        event = service(g.customer, purpose, actor=portal_actor(g.customer), channel="portal",
                        evidence=client_evidence(), language=current_language())
    flash(message % {"title": purpose_info(event.purpose).title_in(event.language)}, "success")
    return redirect(url_for("portal.consents", _anchor=f"purpose-{event.purpose}"))


@bp.get("/receipts/<event_id>.jws")
@customer_required
def receipt(event_id: str):
    """The signed receipt for one of the customer's own consent events, as a download."""
    event = get_event(g.customer, event_id)
    return Response(
        receipts.issue_receipt(event, signing_key=runtime().settings.receipt_signing_key),
        mimetype="application/jose",
        headers={"Content-Disposition": f'attachment; filename="consent-receipt-{event.id}.jws"'},
    )


@bp.route("/receipts/verify", methods=["GET", "POST"])
@customer_required
def verify_receipt():
    """Check a receipt's signature against our published keys; say why it fails."""
    form = VerifyReceiptForm()
    claims = problem = None
    if form.validate_on_submit():
        token = form.token()
        if token is not None:
            try:
                claims = receipts.verify_receipt(
                    token, signing_key=runtime().settings.receipt_signing_keys)
            except SignatureInvalid as exc:
                problem = str(exc)
    status = 422 if form.error_list() else 200
    return render_template("portal/verify_receipt.html", form=form, claims=claims,
                           problem=problem), status


@bp.get("/access")
@customer_required
def access_log():
    """Every staff view and reveal of the customer's record, a page at a time (newest first)."""
    before = request.args.get("before")
    if before is not None and not (before.isdigit() and len(before) <= 18 and int(before) > 0):
        abort(400)  # a position is an entry id: a positive whole number
    page = staff_access_page(g.customer.id, before=int(before) if before else None)
    return render_template("portal/access_log.html", accesses=page.accesses, older=page.older,
                           first_page=before is None)
