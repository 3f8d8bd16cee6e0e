"""Administration: staff accounts (create, role, deactivate, password link) and API clients.

Secrets — a password link, an API key — are shown once, in the response
to the action that created them, and never stored in clear.
"""

from __future__ import annotations

from flask import flash, g, redirect, render_template, url_for
from wtforms.fields.choices import SelectChoice

from consentmgr.apiclients import services as api_clients
from consentmgr.errors import DomainError, ValidationFailed
from consentmgr.i18n import _
from consentmgr.staff import services
from consentmgr.staff.permissions import Permission
from consentmgr.unit_of_work import unit_of_work
from consentmgr.web.staff import bp
from consentmgr.web.staff.auth import requires
from consentmgr.web.staff.forms import (
    ROLE_LABELS,
    ApiClientForm,
    ConfirmForm,
    RoleForm,
    StaffForm,
)


def _role_form(user) -> RoleForm:
    form = RoleForm(prefix=f"s{user.id.hex}", formdata=None)
    form.role.data = user.role.value
    return form


def _staff_page(row_errors: dict[str, str] | None = None, status: int = 200):
    people = services.list_staff()
    return render_template(
        "staff/admin_staff.html", people=people,
        role_forms={u.id: _role_form(u) for u in people}, row_errors=row_errors or {},
        confirm=ConfirmForm(), role_labels=ROLE_LABELS,
    ), status


@bp.get("/admin/staff")
@requires(Permission.ADMINISTER)
def staff_list():
    """Every staff account with its role and state, and the actions on it."""
    return _staff_page()


@bp.route("/admin/staff/new", methods=["GET", "POST"])
@requires(Permission.ADMINISTER)
def staff_new():
    """Create an account; the response shows its one-time password link."""
    form = StaffForm()
    if form.validate_on_submit():
        try:
            with unit_of_work():
                user, link = services.create_staff(form.email.data, form.display_name.data,
                                                   form.role.data, actor=g.staff.actor)
                name = user.display_name
        except ValidationFailed as exc:
            for name, messages in exc.errors.items():
                getattr(form, name).errors.extend(messages)
        else:
            return render_template("staff/admin_link.html", name=name, link=link, created=True)
    return render_template("staff/admin_staff_new.html", form=form), 422 if form.errors else 200


@bp.post("/admin/staff/<staff_id>/role")
@requires(Permission.ADMINISTER)
def staff_role(staff_id: str):
    """Change a role (effective at the staff member's next request)."""
    user = services.get_staff(staff_id)
    form = RoleForm(prefix=f"s{user.id.hex}")
    if not form.validate_on_submit():
        return _staff_page({user.id: _("Choose a role.")}, 422)
    try:
        with unit_of_work():
            services.change_role(user, form.role.data, actor=g.staff.actor)
    except (ValidationFailed, services.LastAdministrator) as exc:
        message = " ".join(sum(exc.errors.values(), [])) if isinstance(exc, ValidationFailed) else str(exc)
        return _staff_page({user.id: message}, exc.status)
    flash(_("Role changed."), "info")
    return redirect(url_for("staff.staff_list"))


@bp.post("/admin/staff/<staff_id>/deactivate")
@requires(Permission.ADMINISTER)
def staff_deactivate(staff_id: str):
    """Deactivate an account for good; its sessions end at their next request."""
    user = services.get_staff(staff_id)
    if not ConfirmForm().validate_on_submit():
        return _staff_page({user.id: _("Please try again.")}, 400)
    try:
        with unit_of_work():
            services.deactivate(user, actor=g.staff.actor)
    except services.LastAdministrator as exc:
        return _staff_page({user.id: str(exc)}, exc.status)
    flash(_("Account deactivated."), "info")
    return redirect(url_for("staff.staff_list"))


@bp.post("/admin/staff/<staff_id>/password-link")
@requires(Permission.ADMINISTER)
def staff_password_link(staff_id: str):
    """A new one-time password link (a forgotten password); older links stop working."""
    user = services.get_staff(staff_id)
    if not ConfirmForm().validate_on_submit():
        return _staff_page({user.id: _("Please try again.")}, 400)
    try:
        with unit_of_work():
            link = services.issue_password_link(user, actor=g.staff.actor)
            name = user.display_name
    except DomainError as exc:
        return _staff_page({user.id: str(exc)}, exc.status)
    return render_template("staff/admin_link.html", name=name, link=link, created=False)


# ------------------------------------------------------------ API clients


def _api_client_form(*, fresh: bool = False) -> ApiClientForm:
    form = ApiClientForm(formdata=None) if fresh else ApiClientForm()
    form.scopes.choices = [SelectChoice(scope, scope) for scope in api_clients.SCOPES]
    return form


def _api_clients_page(form: ApiClientForm, status: int = 200, **context):
    return render_template("staff/api_clients.html", form=form,
                           clients=api_clients.list_clients(), confirm=ConfirmForm(),
                           **context), status


@bp.route("/admin/api-clients", methods=["GET", "POST"])
@requires(Permission.ADMINISTER)
def api_client_list():
    """API clients, and a form to create one (its key is shown once)."""
    form = _api_client_form()
    if form.validate_on_submit():
        try:
            with unit_of_work():
                client, key = api_clients.create_client(form.name.data, form.scopes.data or [],
                                                        actor=g.staff.actor)
                created = {"name": client.name, "key": key, "scopes": list(client.scopes)}
        except ValidationFailed as exc:
            for name, messages in exc.errors.items():
                getattr(form, name).errors.extend(messages)
        else:
            return _api_clients_page(_api_client_form(fresh=True), created=created)
    return _api_clients_page(form, 422 if form.errors else 200)


@bp.post("/admin/api-clients/<client_id>/revoke")
@requires(Permission.ADMINISTER)
def api_client_revoke(client_id: str):
    """Revoke a client's key for good."""
    client = api_clients.get_client(client_id)
    if not ConfirmForm().validate_on_submit():
        return _api_clients_page(_api_client_form(fresh=True), 400)
    with unit_of_work():
        api_clients.revoke_client(client, actor=g.staff.actor)
    flash(_("API key revoked: calls with it are refused within seconds."), "info")
    return redirect(url_for("staff.api_client_list"))
