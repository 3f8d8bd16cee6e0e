"""Forms of the staff screens (Flask-WTF: every POST form carries a CSRF token).

Rules that are the domain's — what makes a reveal reason acceptable, what a
good password is — live in the services, so the forms here only parse; a
reveal form with no reason must reach the service to be recorded as denied.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import EqualTo, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from consentmgr.staff.access import REASON_LABELS
from consentmgr.staff.models import StaffRole

# What colleagues call each role on the staff screens.
ROLE_LABELS = {StaffRole.AGENT: "Agent", StaffRole.DPO: "Data protection officer",
               StaffRole.ADMIN: "Administrator"}
ROLE_CHOICES = [SelectChoice(role.value, label) for role, label in ROLE_LABELS.items()]


class SignInForm(FlaskForm):
    """First step: email and password."""

    email = EmailField("Email address", validators=[
        InputRequired("Enter your email address."), Length(max=254)])
    password = PasswordField("Password", validators=[InputRequired("Enter your password.")])


class CodeForm(FlaskForm):
    """Second step: the 6-digit code from the authenticator app."""

    code = StringField("6-digit code", validators=[
        InputRequired("Enter the 6-digit code from your authenticator app."), Length(max=12)])


class SetPasswordForm(FlaskForm):
    """Choose a password through a one-time link."""

    password = PasswordField("New password", validators=[InputRequired("Choose a password.")])
    confirm = PasswordField("Repeat the new password", validators=[
        InputRequired("Type the password again."),
        EqualTo("password", message="The two passwords are not the same.")])


class ConfirmForm(FlaskForm):
    """A button that changes something (sign out, deactivate, revoke): CSRF only."""


class SearchForm(FlaskForm):
    """Find a customer by exact email address or customer id."""

    query = StringField("Email address or customer id", validators=[
        InputRequired("Enter the customer's email address or customer id."), Length(max=254)])


class RevealForm(FlaskForm):
    """Why a value is needed in clear; checked (and a refusal recorded) by the service."""

    reason_code = SelectField(
        "Reason", choices=[SelectChoice("", "Choose a reason")]
        + [SelectChoice(r.value, label) for r, label in REASON_LABELS.items()],
        validate_choice=False)
    ticket_reference = StringField("Ticket reference")
    justification = TextAreaField("Justification")


class ConsentForm(FlaskForm):
    """A choice the customer made outside the portal (e.g. on the phone), with evidence.

    ``action`` comes from the button pressed (grant, withdraw or object).
    """

    action = StringField("Action")
    note = TextAreaField("Evidence note", validators=[
        InputRequired("Describe how the customer told you (e.g. phone call, ticket reference)."),
        Length(max=500, message="Keep the note to 500 characters or fewer.")])


class StaffForm(FlaskForm):
    """Create a staff account (the service checks every field and names each problem)."""

    email = EmailField("Work email address")
    display_name = StringField("Name")
    role = SelectField("Role", choices=ROLE_CHOICES, validate_choice=False)


class RoleForm(FlaskForm):
    """Change a staff member's role."""

    role = SelectField("Role", choices=ROLE_CHOICES, validate_choice=False)


class MultiCheckboxField(SelectMultipleField):
    """Checkboxes for a multiple choice (works without JavaScript)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ApiClientForm(FlaskForm):
    """Create an API client."""

    name = StringField("Name of the calling system", validators=[
        InputRequired("Give the client a name, e.g. shop or crm.")])
    scopes = MultiCheckboxField("Scopes", choices=[], validate_choice=False)


class AuditFilterForm(FlaskForm):
    """Filters of the audit browser (a GET form: shareable, no CSRF needed)."""

    class Meta:
        csrf = False

    actor = StringField("Actor id", validators=[Optional(), Length(max=64)])
    customer = StringField("Customer id", validators=[Optional(), Length(max=36)])
    action = SelectField("Action", choices=[], validate_choice=False)
    since = DateField("From (UTC date)", validators=[Optional()])
    until = DateField("To (UTC date)", validators=[Optional()])
    page = IntegerField("Page", validators=[Optional(), NumberRange(min=1, max=100000)])
