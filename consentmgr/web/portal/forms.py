"""Portal forms (Flask-WTF: CSRF token on every form).

The forms render inputs and carry CSRF; the *rules* are the marshmallow
schemas in :mod:`consentmgr.customers.schemas`, which the API and the
services apply too. A :class:`~consentmgr.errors.ValidationFailed` from a
service is attached back onto the inputs with :meth:`PortalForm.attach_errors`,
so a rule is written once and every entry point gives the same message.
"""

from __future__ import annotations

from typing import Any, Mapping

from flask_wtf.file import FileField
from marshmallow import ValidationError
from wtforms import (
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import CheckboxInput, ListWidget

from consentmgr.customers.schemas import CHANNELS, LANGUAGES, CustomerDetailsSchema
from consentmgr.i18n import _, lazy_gettext
from consentmgr.requests.models import RequestType
from consentmgr.web.forms import StorableTextForm, in_page_language

# Each language in its own words, then in the page's (so the reader finds their own either way).
LANGUAGE_NAMES = {
    "da": lazy_gettext("Dansk (Danish)"), "de": lazy_gettext("Deutsch (German)"), "en": "English",
    "es": lazy_gettext("Español (Spanish)"), "fi": lazy_gettext("Suomi (Finnish)"),
    "fr": lazy_gettext("Français (French)"), "it": lazy_gettext("Italiano (Italian)"),
    "nl": lazy_gettext("Nederlands (Dutch)"), "pl": lazy_gettext("Polski (Polish)"),
    "pt": lazy_gettext("Português (Portuguese)"), "sv": lazy_gettext("Svenska (Swedish)"),
}
CHANNEL_NAMES = {"email": lazy_gettext("Email"), "sms": lazy_gettext("Text message (SMS)"),
                 "post": lazy_gettext("Post"), "phone": lazy_gettext("Phone")}

# What a customer calls each field (success messages, error summaries).
FIELD_LABELS = {
    "email": lazy_gettext("email address"),
    "name": lazy_gettext("name"),
    "phone": lazy_gettext("phone number"),
    "postal_address": lazy_gettext("postal address"),
    "date_of_birth": lazy_gettext("date of birth"),
    "preferences": lazy_gettext("contact preferences"),
}

_email_only = CustomerDetailsSchema(only=("email",))


class PortalForm(StorableTextForm):
    """A form that can show errors found by a service or schema on its inputs
    (and refuses unstorable text on every input: :class:`StorableTextForm`)."""

    #: Error messages that belong to no single input.
    form_errors_extra: list[str]

    def attach_errors(self, errors: Mapping[str, list[str]]) -> None:
        """Put ``ValidationFailed.errors`` (dotted field paths) on the matching inputs."""
        self.form_errors_extra = []
        for path, messages in in_page_language(errors).items():
            field = self._field_for(path)
            if field is None:
                self.form_errors_extra.extend(messages)
            else:
                field.errors = [*field.errors, *messages]

    def _field_for(self, path: str):
        for part in reversed(path.split(".")):
            if part in self._fields and part != "csrf_token":
                return self._fields[part]
        return None

    def error_list(self) -> list[tuple[str | None, str]]:
        """Every error as ``(input id or None, message)``, in form order, for the summary."""
        found: list[tuple[str | None, str]] = [(None, m) for m in getattr(self, "form_errors_extra", [])]
        for field in self:
            if field.name == "csrf_token":
                continue
            grouped = isinstance(field, (SelectMultipleField, RadioField))
            target = f"{field.id}-0" if grouped else field.id
            found.extend((target, message) for message in field.errors)
        return found


class SignInForm(PortalForm):
    """Ask for a sign-in link."""

    email = StringField(lazy_gettext("Email address"),
                        render_kw={"type": "email", "autocomplete": "email", "spellcheck": "false"})

    def validate_address(self) -> str | None:
        """The address if it is well-formed (the customer-details rule), else None with errors set."""
        try:
            return _email_only.load({"email": (self.email.data or "").strip()})["email"]
        except ValidationError as exc:
            messages = exc.normalized_messages().get("email", [_("Enter an email address.")])
            if (self.email.data or "").strip() == "":
                messages = [_("Enter the email address you use with us.")]
            self.email.errors = list(messages)
            return None


class MultiCheckboxField(SelectMultipleField):
    """A group of checkboxes; the schema, not WTForms, decides which values are valid."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class DetailsForm(PortalForm):
    """Correct personal details and preferences (GDPR Art. 16).

    Not the email address: that changes only once the new address confirms
    it (:class:`EmailChangeForm`).
    """

    name = StringField(lazy_gettext("Full name"), render_kw={"autocomplete": "name"})
    phone = StringField(lazy_gettext("Phone number (optional)"),
                        render_kw={"type": "tel", "autocomplete": "tel"})
    postal_address = TextAreaField(lazy_gettext("Postal address (optional)"),
                                   render_kw={"rows": 4, "autocomplete": "street-address"})
    date_of_birth = StringField(lazy_gettext("Date of birth (optional)"),
                                render_kw={"autocomplete": "bday"})
    channels = MultiCheckboxField(lazy_gettext("How we may contact you"),
                                  choices=[SelectChoice(c, CHANNEL_NAMES.get(c, c)) for c in CHANNELS],
                                  validate_choice=False)
    language = SelectField(lazy_gettext("Preferred language"),
                           choices=[SelectChoice(code, LANGUAGE_NAMES.get(code, code))
                                    for code in LANGUAGES],
                           validate_choice=False)
    topics = StringField(lazy_gettext("Topics that interest you (optional)"))

    @classmethod
    def for_customer(cls, customer: Any, **kwargs: Any) -> DetailsForm:
        """The form filled with what we hold now (on GET; POST data wins otherwise)."""
        preferences = customer.preferences or {}
        born = customer.date_of_birth
        return cls(
            name=customer.name, phone=customer.phone or "",
            postal_address=customer.postal_address or "",
            date_of_birth=born.isoformat() if born else "",
            channels=list(preferences.get("channels", [])),
            language=preferences.get("language", "en"),
            topics=", ".join(preferences.get("topics", [])),
            **kwargs,
        )

    def changes(self, customer: Any) -> dict[str, Any]:
        """The submitted details in the shape of ``CustomerDetailsSchema`` (not yet validated).

        Empty optional inputs mean "none"; browsers send CRLF in text areas,
        stored addresses use LF. Preferences equal to what we hold (with the
        schema's defaults) are left out, so saving an untouched form changes
        nothing.
        """
        def optional(value: str | None) -> str | None:
            value = (value or "").strip()
            return value or None

        address = optional(self.postal_address.data)
        name = self.name.data or ""
        changes: dict[str, Any] = {
            # A blank name goes to the schema as typed, so it says "Enter a name."
            "name": name.strip() or name,
            "phone": optional(self.phone.data),
            "postal_address": address.replace("\r\n", "\n").replace("\r", "\n") if address else None,
            "date_of_birth": optional(self.date_of_birth.data),
        }
        held = {"channels": [], "language": "en", "topics": [], **(customer.preferences or {})}
        chosen = list(self.channels.data or [])
        # Keep the order we hold, so re-saving the same choices is no change.
        channels = [c for c in held["channels"] if c in chosen] + [
            c for c in chosen if c not in held["channels"]]
        preferences = {
            "channels": channels,
            "language": self.language.data or "",
            "topics": [t.strip() for t in (self.topics.data or "").split(",") if t.strip()],
        }
        if preferences != {k: held.get(k) for k in preferences}:
            changes["preferences"] = preferences
        return changes


class EmailChangeForm(PortalForm):
    """Ask to change the email address: a link goes to the new one (the service checks it)."""

    email = StringField(lazy_gettext("New email address"),
                        render_kw={"type": "email", "autocomplete": "email", "spellcheck": "false"})

    def new_address(self) -> str:
        """The address as typed, trimmed (the service validates it)."""
        return (self.email.data or "").strip()


class VerifyReceiptForm(PortalForm):
    """Check a consent receipt: paste it, or upload the downloaded file."""

    MAX_CHARACTERS = 20_000

    receipt = TextAreaField(lazy_gettext("Paste a receipt"),
                            render_kw={"rows": 6, "spellcheck": "false"})
    receipt_file = FileField(lazy_gettext("Or choose a receipt file (.jws)"),
                             render_kw={"accept": ".jws,.txt"})

    def token(self) -> str | None:
        """The receipt text from the text area or the file, or None with errors set."""
        text = (self.receipt.data or "").strip()
        upload = self.receipt_file.data
        if not text and upload is not None and getattr(upload, "filename", ""):
            raw = upload.read(self.MAX_CHARACTERS + 1)
            try:
                text = raw.decode("ascii").strip()
            except UnicodeDecodeError:
                self.receipt_file.errors = [_("This file is not a receipt: a receipt is plain text.")]
                return None
            target = self.receipt_file
        else:
            target = self.receipt
        if not text:
            self.receipt.errors = [_("Paste a receipt, or choose a receipt file.")]
            return None
        if len(text) > self.MAX_CHARACTERS:
            target.errors = [_("A receipt is shorter than %(limit)s characters; this is not one.",
                               limit=self.MAX_CHARACTERS)]
            return None
        return text



# What each right is, in the customer's words (the request form's choices).
REQUEST_TYPE_LABELS = {
    RequestType.ACCESS: lazy_gettext("Send me a copy of my data (right of access, Art. 15)"),
    RequestType.PORTABILITY: lazy_gettext("Give me my data in a machine-readable file to take "
                                          "elsewhere (data portability, Art. 20)"),
    RequestType.RECTIFICATION: lazy_gettext("Correct something I cannot change myself "
                                            "(rectification, Art. 16)"),
    RequestType.ERASURE: lazy_gettext("Erase my data (Art. 17)"),
    RequestType.RESTRICTION: lazy_gettext("Keep my data but stop using it (restriction, Art. 18)"),
    RequestType.OBJECTION: lazy_gettext("Stop using my data for one of your legitimate interests "
                                        "(objection, Art. 21)"),
}


class RequestForm(PortalForm):
    """File a data-subject request; the request service checks every choice."""

    MAX_NOTES = 2000

    type = RadioField(lazy_gettext("What would you like us to do?"),
                      choices=[SelectChoice(t.value, label)
                               for t, label in REQUEST_TYPE_LABELS.items()],
                      validate_choice=False)
    purpose = SelectField(lazy_gettext("If you object: which use of your data?"), choices=[],
                          validate_choice=False)
    notes = TextAreaField(lazy_gettext("Tell us more (needed for a correction: what is wrong, "
                                       "and what it should say)"), render_kw={"rows": 4})

    def with_purposes(self, purposes: list[tuple[str, str]]) -> RequestForm:
        """Offer ``(slug, title)`` purposes for an objection."""
        self.purpose.choices = [SelectChoice("", _("Choose a purpose"))] + [
            SelectChoice(slug, title) for slug, title in purposes]
        return self

    def notes_text(self) -> str | None:
        """The note, or None with an error set when it is too long."""
        notes = (self.notes.data or "").replace("\r\n", "\n").strip()
        if len(notes) > self.MAX_NOTES:
            self.notes.errors = [_("Keep it to %(limit)s characters or fewer.", limit=self.MAX_NOTES)]
            return None
        return notes or None
