"""Signing in and out, setting a password, and the staff home page.

Failed sign-in steps are rate limited per client address and per account
(``STAFF_SIGN_IN_RATE_LIMIT``, default ``20 per 15 minutes``, and
``STAFF_ACCOUNT_RATE_LIMIT``, default ``10 per 15 minutes``, in
``app.config``). Only failures count, so a colleague who types the right
password is never slowed down; over the limit, the 429 page is shown.
"""

from __future__ import annotations

import logging

from flask import current_app, flash, g, redirect, render_template, request, session, url_for

from consentmgr.errors import ValidationFailed
from consentmgr.extensions import limiter
from consentmgr.i18n import _
from consentmgr.staff import services
from consentmgr.staff.services import InvalidCode, PasswordLinkInvalid, SignInFailed
from consentmgr.unit_of_work import unit_of_work
from consentmgr.web.errors import render_error
from consentmgr.web.staff import bp
from consentmgr.web.staff.auth import (
    PENDING_ID,
    pending_user,
    request_info,
    requires,
    start_pending,
    start_session,
)
from consentmgr.web.staff.forms import (
    CodeForm,
    ConfirmForm,
    SearchForm,
    SetPasswordForm,
    SignInForm,
)
from consentmgr.web.staff.start import start_page

log = logging.getLogger(__name__)

DEFAULT_SIGN_IN_LIMIT = "20 per 15 minutes"
DEFAULT_ACCOUNT_LIMIT = "10 per 15 minutes"


def _address_limit() -> str:
    return current_app.config.get("STAFF_SIGN_IN_RATE_LIMIT", DEFAULT_SIGN_IN_LIMIT)


def _account_limit() -> str:
    return current_app.config.get("STAFF_ACCOUNT_RATE_LIMIT", DEFAULT_ACCOUNT_LIMIT)


def _account_key() -> str:
    # The account being tried: the blind index of the typed email (never the
    # email itself: limiter storage may be a shared Redis), or the pending id.
    if request.endpoint == "staff.sign_in":
        return "staff-email:" + services.email_lookup_key(request.form.get("email", "")[:254])
    return "staff-id:" + str(session.get(PENDING_ID, "none"))


def _attempt_failed(response) -> bool:
    return bool(g.get("sign_in_failed"))


def _breached(limit) -> None:
    # Logged, not audited: an attacker could otherwise write to the audit
    # trail without bound. The failures before the limit are each audited.
    log.warning("staff sign-in rate limit reached at %s", request.endpoint)


_per_address = limiter.shared_limit(_address_limit, scope="staff-sign-in-address",
                                    methods=["POST"], deduct_when=_attempt_failed,
                                    on_breach=_breached)
_per_account = limiter.shared_limit(_account_limit, scope="staff-sign-in-account",
                                    key_func=_account_key, methods=["POST"],
                                    deduct_when=_attempt_failed, on_breach=_breached)


def _form_page(template: str, form, **context):
    return render_template(template, form=form, **context), 422 if form.errors else 200


@bp.route("/sign-in", methods=["GET", "POST"])
@_per_address
@_per_account
def sign_in():
    """Step one: email and password."""
    if g.staff is not None:
        return redirect(url_for("staff.home"))
    form = SignInForm()
    if form.validate_on_submit():
        try:
            # A failure's audit entry is kept (SignInFailed keeps_record).
            with unit_of_work():
                user = services.authenticate(form.email.data, form.password.data,
                                             **request_info())
                start_pending(user)
        except SignInFailed as exc:
            g.sign_in_failed = True
            form.form_errors.append(str(exc))
            return _form_page("staff/sign_in.html", form)
        return redirect(url_for("staff.second_factor" if user.totp_enrolled else "staff.enrol"))
    return _form_page("staff/sign_in.html", form)


def _restart_sign_in():
    flash(_("Please sign in again: the code step has to follow the password within 5 minutes."),
          "info")
    return redirect(url_for("staff.sign_in"))


@bp.route("/sign-in/code", methods=["GET", "POST"])
@_per_address
@_per_account
def second_factor():
    """Step two: the code from the authenticator app."""
    user = pending_user()
    if user is None:
        return _restart_sign_in()
    if not user.totp_enrolled:
        return redirect(url_for("staff.enrol"))
    form = CodeForm()
    if form.validate_on_submit():
        try:
            with unit_of_work():  # InvalidCode keeps its audit entry
                services.verify_totp(user, form.code.data, **request_info())
                target = start_session(user)
        except InvalidCode as exc:
            g.sign_in_failed = True
            form.code.errors.append(str(exc))
            return _form_page("staff/code.html", form)
        return redirect(target)
    return _form_page("staff/code.html", form)


@bp.route("/sign-in/authenticator", methods=["GET", "POST"])
@_per_address
@_per_account
def enrol():
    """First sign-in: set up the authenticator app, confirmed by its first code."""
    user = pending_user()
    if user is None:
        return _restart_sign_in()
    if user.totp_enrolled:
        return redirect(url_for("staff.second_factor"))
    with unit_of_work():  # the new secret must outlive this page
        enrolment = services.start_totp_enrolment(user)
    form = CodeForm()
    if form.validate_on_submit():
        try:
            with unit_of_work():  # InvalidCode keeps its audit entry
                services.enrol_totp(user, form.code.data, **request_info())
                target = start_session(user)
        except InvalidCode as exc:
            g.sign_in_failed = True
            form.code.errors.append(str(exc))
            return _form_page("staff/enrol.html", form, enrolment=enrolment)
        return redirect(target)
    return _form_page("staff/enrol.html", form, enrolment=enrolment)


@bp.post("/sign-out")
@requires()
def sign_out():
    """End the session (a POST with a CSRF token: a link cannot sign anyone out)."""
    form = ConfirmForm()
    if not form.validate_on_submit():
        return render_error(400)
    with unit_of_work():
        services.sign_out(services.get_staff(g.staff.id), **request_info())
    session.clear()
    flash(_("You are signed out."), "info")
    return redirect(url_for("staff.sign_in"))


@bp.route("/set-password/<token>", methods=["GET", "POST"])
def set_password(token: str):
    """Choose a password through the one-time link an administrator was given."""
    try:
        services.check_password_link(token)
    except PasswordLinkInvalid as exc:
        return render_error(404, _("This link does not work"), str(exc))
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            with unit_of_work():
                services.set_password(token, form.password.data)
        except ValidationFailed as exc:
            form.password.errors.extend(exc.errors.get("password", [str(exc)]))
            return _form_page("staff/set_password.html", form)
        session.clear()
        flash(_("Your password is set. Sign in with it now."), "info")
        return redirect(url_for("staff.sign_in"))
    return _form_page("staff/set_password.html", form)


@bp.get("/")
@requires()
def home():
    """What this staff member can do, by role, and what needs their attention today."""
    return render_template("staff/home.html", start=start_page(g.staff.id, g.staff.role),
                           search_form=SearchForm(formdata=None))
