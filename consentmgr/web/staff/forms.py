"""Forms of the staff screens (Flask-WTF: every POST form carries a CSRF token).

Rules that are the domain's — what makes a reveal reason acceptable, what a
good password is — live in the services, so the forms here only parse; a
reveal form with no reason must reach the service to be recorded as denied.
Every form refuses text with a control character on its input
(:class:`~consentmgr.web.forms.StorableTextForm`), before any service sees it.
"""

from __future__ import annotations

from typing import Any

from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import EqualTo, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from consentmgr.i18n import lazy_gettext
from consentmgr.requests.models import (
    HOLD_EXCEPTIONS,
    RefusalReason,
    RequestStatus,
    RequestType,
)
from consentmgr.staff.access import REASON_LABELS
from consentmgr.staff.models import StaffRole
from consentmgr.web.forms import StorableTextForm

# What colleagues call each role on the staff screens.
ROLE_LABELS = {StaffRole.AGENT: lazy_gettext("Agent"),
               StaffRole.DPO: lazy_gettext("Data protection officer"),
               StaffRole.ADMIN: lazy_gettext("Administrator")}
ROLE_CHOICES = [SelectChoice(role.value, label) for role, label in ROLE_LABELS.items()]


class SignInForm(StorableTextForm):
    """First step: email and password."""

    email = EmailField(lazy_gettext("Email address"), validators=[
        InputRequired(lazy_gettext("Enter your email address.")), Length(max=254)])
    password = PasswordField(lazy_gettext("Password"), validators=[
        InputRequired(lazy_gettext("Enter your password."))])


class CodeForm(StorableTextForm):
    """Second step: the 6-digit code from the authenticator app."""

    code = StringField(lazy_gettext("6-digit code"), validators=[
        InputRequired(lazy_gettext("Enter the 6-digit code from your authenticator app.")),
        Length(max=12)])


class SetPasswordForm(StorableTextForm):
    """Choose a password through a one-time link."""

    password = PasswordField(lazy_gettext("New password"), validators=[
        InputRequired(lazy_gettext("Choose a password."))])
    confirm = PasswordField(lazy_gettext("Repeat the new password"), validators=[
        InputRequired(lazy_gettext("Type the password again.")),
        EqualTo("password", message=lazy_gettext("The two passwords are not the same."))])


class ConfirmForm(StorableTextForm):
    """A button that changes something (sign out, deactivate, revoke): CSRF only."""


class SearchForm(StorableTextForm):
    """Find a customer by exact email address or customer id."""

    query = StringField(lazy_gettext("Email address or customer id"), validators=[
        InputRequired(lazy_gettext("Enter the customer's email address or customer id.")),
        Length(max=254)])


class RevealForm(StorableTextForm):
    """Why a value is needed in clear; checked (and a refusal recorded) by the service."""

    reason_code = SelectField(
        lazy_gettext("Reason"), choices=[SelectChoice("", lazy_gettext("Choose a reason"))]
        + [SelectChoice(r.value, label) for r, label in REASON_LABELS.items()],
        validate_choice=False)
    ticket_reference = StringField(lazy_gettext("Ticket reference"))
    justification = TextAreaField(lazy_gettext("Justification"))


class ConsentForm(StorableTextForm):
    """A choice the customer made outside the portal (e.g. on the phone), with evidence.

    ``action`` comes from the button pressed (grant, withdraw or object).
    """

    action = StringField(lazy_gettext("Action"))
    note = TextAreaField(lazy_gettext("Evidence note"), validators=[
        InputRequired(lazy_gettext(
            "Describe how the customer told you (e.g. phone call, ticket reference).")),
        Length(max=500, message=lazy_gettext("Keep the note to 500 characters or fewer."))])


class StaffForm(StorableTextForm):
    """Create a staff account (the service checks every field and names each problem)."""

    email = EmailField(lazy_gettext("Work email address"))
    display_name = StringField(lazy_gettext("Name"))
    role = SelectField(lazy_gettext("Role"), choices=ROLE_CHOICES, validate_choice=False)


class RoleForm(StorableTextForm):
    """Change a staff member's role."""

    role = SelectField(lazy_gettext("Role"), choices=ROLE_CHOICES, validate_choice=False)


class MultiCheckboxField(SelectMultipleField):
    """Checkboxes for a multiple choice (works without JavaScript)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ApiClientForm(StorableTextForm):
    """Create an API client."""

    name = StringField(lazy_gettext("Name of the calling system"), validators=[
        InputRequired(lazy_gettext("Give the client a name, e.g. shop or crm."))])
    scopes = MultiCheckboxField(lazy_gettext("Scopes"), choices=[], validate_choice=False)


class AuditFilterForm(StorableTextForm):
    """Filters of the audit browser (a GET form: shareable, no CSRF needed)."""

    class Meta:
        csrf = False

    actor = StringField(lazy_gettext("Actor id"), validators=[Optional(), Length(max=64)])
    customer = StringField(lazy_gettext("Customer id"), validators=[Optional(), Length(max=36)])
    action = SelectField(lazy_gettext("Action"), choices=[], validate_choice=False)
    since = DateField(lazy_gettext("From (UTC date)"), validators=[Optional()])
    until = DateField(lazy_gettext("To (UTC date)"), validators=[Optional()])
    page = IntegerField(lazy_gettext("Page"),
                        validators=[Optional(), NumberRange(min=1, max=100000)])


# What staff call each request type, status and refusal reason.
REQUEST_TYPE_LABELS = {
    RequestType.ACCESS: lazy_gettext("Access (Art. 15)"),
    RequestType.PORTABILITY: lazy_gettext("Portability (Art. 20)"),
    RequestType.RECTIFICATION: lazy_gettext("Rectification (Art. 16)"),
    RequestType.ERASURE: lazy_gettext("Erasure (Art. 17)"),
    RequestType.RESTRICTION: lazy_gettext("Restriction (Art. 18)"),
    RequestType.OBJECTION: lazy_gettext("Objection (Art. 21)"),
}
REQUEST_STATUS_LABELS = {
    RequestStatus.RECEIVED: lazy_gettext("Received"),
    RequestStatus.AWAITING_IDENTITY: lazy_gettext("Awaiting identity check"),
    RequestStatus.IN_PROGRESS: lazy_gettext("In progress"),
    RequestStatus.COMPLETED: lazy_gettext("Completed"),
    RequestStatus.REFUSED: lazy_gettext("Refused"),
    RequestStatus.WITHDRAWN: lazy_gettext("Withdrawn"),
}
REFUSAL_LABELS = {
    RefusalReason.IDENTITY_NOT_VERIFIED: lazy_gettext("Identity not verified (Art. 12(6))"),
    RefusalReason.MANIFESTLY_UNFOUNDED:
        lazy_gettext("Manifestly unfounded or excessive (Art. 12(5))"),
    RefusalReason.LEGAL_OBLIGATION:
        lazy_gettext("Legal obligation to keep the data (Art. 17(3)(b))"),
    RefusalReason.LEGAL_CLAIMS: lazy_gettext("Needed for legal claims (Art. 17(3)(e))"),
    RefusalReason.OTHER: lazy_gettext("Other (explain below)"),
}
HOLD_LABELS = {reason: REFUSAL_LABELS[reason] for reason in HOLD_EXCEPTIONS}


def _choose(prompt: Any, labels: dict) -> list[SelectChoice]:
    return [SelectChoice("", prompt)] + [SelectChoice(k.value, v) for k, v in labels.items()]


class RequestFilterForm(StorableTextForm):
    """Filters of the request queue (a GET form: shareable, no CSRF needed)."""

    class Meta:
        csrf = False

    status = SelectField(
        lazy_gettext("Status"),
        choices=[SelectChoice("", lazy_gettext("Open (any open status)")),
                 SelectChoice("all", lazy_gettext("Any status"))]
        + [SelectChoice(k.value, v) for k, v in REQUEST_STATUS_LABELS.items()],
        validate_choice=False)
    type = SelectField(lazy_gettext("Type"),
                       choices=_choose(lazy_gettext("Any type"), REQUEST_TYPE_LABELS),
                       validate_choice=False)
    due_within_days = IntegerField(lazy_gettext("Due within (days)"), validators=[
        Optional(), NumberRange(min=0, max=366,
                                message=lazy_gettext("Enter a number of days from 0 to 366."))])
    overdue = BooleanField(lazy_gettext("Overdue only"))
    customer = StringField(lazy_gettext("Customer id"), validators=[Optional(), Length(max=64)])
    page = IntegerField(lazy_gettext("Page"),
                        validators=[Optional(), NumberRange(min=1, max=100000)])


class FileRequestForm(StorableTextForm):
    """A request a caller made by phone or letter, filed for them with how identity was checked."""

    customer_id = StringField(lazy_gettext("Customer id"), validators=[
        InputRequired(lazy_gettext("Enter the customer id (find the customer first).")),
        Length(max=64)])
    type = SelectField(lazy_gettext("Type of request"),
                       choices=_choose(lazy_gettext("Choose a type"), REQUEST_TYPE_LABELS),
                       validate_choice=False)
    purpose = SelectField(lazy_gettext("Purpose objected to (objection only)"), choices=[],
                          validate_choice=False)
    notes = TextAreaField(lazy_gettext("Notes (what the caller asked for)"), validators=[
        Length(max=2000, message=lazy_gettext("Keep the notes to 2000 characters or fewer."))])
    identity_check = StringField(lazy_gettext("How you checked the caller's identity"), validators=[
        Length(max=200, message=lazy_gettext("Keep it to 200 characters or fewer."))])


class IdentityForm(StorableTextForm):
    """Record how the requester's identity was checked."""

    identity_check = StringField(lazy_gettext("How you checked the requester's identity"))


class CompleteForm(StorableTextForm):
    """Close a request that staff carried out (e.g. the correction is made)."""

    note = TextAreaField(lazy_gettext("What was done"))


class RefuseForm(StorableTextForm):
    """Refuse a request with a reason code (the customer is told it, and where to complain)."""

    reason_code = SelectField(lazy_gettext("Reason"),
                              choices=_choose(lazy_gettext("Choose a reason"), REFUSAL_LABELS),
                              validate_choice=False)
    explanation = TextAreaField(lazy_gettext("Explanation for the customer"))


class ExtendForm(StorableTextForm):
    """Extend the deadline by one or two further months (Art. 12(3)), with the reason."""

    months = StringField(lazy_gettext("Further months (1 or 2)"))
    reason = TextAreaField(lazy_gettext("Why the request needs longer (told to the customer)"))


class ObjectionDecisionForm(StorableTextForm):
    """Weigh an objection: does it stand, or do compelling legitimate grounds override it?"""

    decision = RadioField(lazy_gettext("Decision"), choices=[
        SelectChoice("upheld",
                     lazy_gettext("The objection stands: stop processing for this purpose")),
        SelectChoice("compelling-grounds",
                     lazy_gettext("Compelling legitimate grounds override it (Art. 21(1))"))],
        validate_choice=False)
    reason = TextAreaField(lazy_gettext("Reason (told to the customer)"))


class LegalHoldForm(StorableTextForm):
    """Hold erasure back under an Art. 17(3) exception."""

    exception = SelectField(lazy_gettext("Exception"),
                            choices=_choose(lazy_gettext("Choose an exception"), HOLD_LABELS),
                            validate_choice=False)
    note = TextAreaField(lazy_gettext("Note (e.g. the case or the law concerned)"))
