"""Forms of the breach register. They only parse: the rules (no discovery in the future, an
existing staff account, a window that is not empty) are the service's, so its errors land on
these inputs."""

from __future__ import annotations

from wtforms import HiddenField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from consentmgr.i18n import lazy_gettext
from consentmgr.web.forms import StorableTextForm

_WHEN = {"type": "datetime-local", "step": "60"}


class BreachForm(StorableTextForm):
    """Record a breach (Art. 33(3), (5))."""

    discovered_at = StringField(lazy_gettext("When it was discovered (UTC)"), render_kw=_WHEN,
                                validators=[Length(max=40)])
    description = TextAreaField(lazy_gettext("What happened"))
    data_categories = TextAreaField(lazy_gettext("Categories of data and of people concerned"))
    approx_people = StringField(lazy_gettext("Approximate number of people affected"),
                                render_kw={"inputmode": "numeric"}, validators=[Length(max=12)])
    consequences = TextAreaField(lazy_gettext("Likely consequences"))
    measures = TextAreaField(lazy_gettext("Measures taken or proposed"))


class AuthorityForm(StorableTextForm):
    """Record the notification of the supervisory authority (Art. 33(1))."""

    notified_at = StringField(lazy_gettext("When the authority was notified (UTC)"),
                              render_kw=_WHEN, validators=[Length(max=40)])
    reference = StringField(lazy_gettext("The authority's reference, or how it was notified"),
                            validators=[Length(max=400)])


class NoticeDecisionForm(StorableTextForm):
    """Decide whether the people affected must be told (Art. 34)."""

    required = RadioField(lazy_gettext("Must the people affected be told?"),
                          validate_choice=False, choices=[
        SelectChoice("yes", lazy_gettext("Yes: the breach is likely to result in a high risk to "
                                         "them (Art. 34(1))")),
        SelectChoice("no", lazy_gettext("No: no high risk, or an exception of Art. 34(3) "
                                        "applies")),
    ], validators=[Optional()])
    reason = TextAreaField(lazy_gettext("Reason"))


class NotifyForm(StorableTextForm):
    """Select the people affected from the audit trail, then mail them."""

    staff_account = StringField(lazy_gettext("Staff account (email address or id)"),
                                validators=[Length(max=254)])
    since = StringField(lazy_gettext("From (UTC)"), render_kw=_WHEN, validators=[Length(max=40)])
    until = StringField(lazy_gettext("Until (UTC)"), render_kw=_WHEN, validators=[Length(max=40)])
    confirm = HiddenField()
