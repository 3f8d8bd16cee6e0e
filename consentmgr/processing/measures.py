"""The technical and organisational measures in force, read from the running configuration.

GDPR Art. 30(1)(g) asks for "a general description of the technical and
organisational security measures referred to in Article 32". A list typed
into a document drifts from the truth the day someone adds a column or a
key; this one is built from what the application actually runs with:

* encryption at rest: every column that the model layer encrypts under an
  owner's data key, found through :func:`consentmgr.keys.registry.encrypted_tables`;
* key management: how many master, blind-index and signing keys are
  configured, and whether wrapped data keys live in a database of their own;
* the audit trail: hash chain, sequencer delay, signed checkpoints;
* access control: the role matrix of :mod:`consentmgr.staff.permissions`;
* transport security and rate limits, as configured.

The boundary gathers a :class:`RunningConfiguration` (areas never read the
Flask app) and passes it in. Names (``master-keys``, column names) are ids
and stay as they are; the descriptions are written in the language of the
page or download being made.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from consentmgr.i18n import _, lazy_gettext, ngettext
from consentmgr.keys.registry import encrypted_tables
from consentmgr.staff.models import StaffRole
from consentmgr.staff.permissions import ROLE_PERMISSIONS


@dataclass(frozen=True)
class RunningConfiguration:
    """What the measures are read from: the settings the application runs with (no secrets)."""

    production: bool
    master_key_ids: tuple[str, ...]
    blind_index_key_ids: tuple[str, ...]
    audit_signing_key_ids: tuple[str, ...]
    receipt_signing_key_ids: tuple[str, ...]
    separate_key_database: bool
    audit_sequence_delay: dt.timedelta
    audit_checkpoint_every: dt.timedelta
    hsts: str | None  # the Strict-Transport-Security value sent in production, if any
    staff_idle_minutes: int
    rate_limits: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Measure:
    """One measure: its area (``encryption``, ``keys``, ...), a short name and what it is."""

    area: str
    name: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        """JSON-ready."""
        return {"area": self.area, "name": self.name, "detail": self.detail}


AREA_TITLES = {
    "encryption": lazy_gettext("Encryption at rest"),
    "keys": lazy_gettext("Key management"),
    "audit": lazy_gettext("Audit trail"),
    "access": lazy_gettext("Access control"),
    "transport": lazy_gettext("Transport security"),
    "rate-limits": lazy_gettext("Rate limits"),
}


def _seconds(span: dt.timedelta) -> str:
    seconds = span.total_seconds()
    return f"{seconds:g} s" if seconds < 120 else f"{seconds / 60:g} min"


def encryption_measures() -> list[Measure]:
    """One measure per encrypted column, from the mapped models themselves."""
    found = []
    for table in encrypted_tables():
        owner = (_("the row's own data key") if table.owner_column == "id"
                 else _("the data key of the row's %(owner)s",
                        owner=table.owner_column.removesuffix("_id")))
        detail = _("AES-256-GCM under %(owner)s, a fresh nonce per value; the associated data "
                   "binds table, column and row id", owner=owner)
        for column in table.columns:
            found.append(Measure("encryption", f"{table.name}.{column}", detail))
    return found


def key_measures(config: RunningConfiguration) -> list[Measure]:
    """Master keys, blind-index keys, signing keys and where wrapped data keys are kept."""
    current = config.master_key_ids[0] if config.master_key_ids else _("none")
    audit_keys = ngettext("%(num)d audit checkpoint signing key",
                          "%(num)d audit checkpoint signing keys",
                          len(config.audit_signing_key_ids))
    receipt_keys = ngettext("%(num)d consent receipt signing key",
                            "%(num)d consent receipt signing keys",
                            len(config.receipt_signing_key_ids))
    return [
        Measure("keys", "master-keys",
                ngettext("%(num)d key-encryption key configured outside the database (current: "
                         "%(current)s); it wraps one data key per owner",
                         "%(num)d key-encryption keys configured outside the database (current: "
                         "%(current)s); they wrap one data key per owner",
                         len(config.master_key_ids), current=current)),
        Measure("keys", "key-store",
                _("wrapped data keys in a separate database (CONSENTMGR_KEYS_DATABASE_URL): "
                  "backups of the main data hold no keys") if config.separate_key_database else
                _("wrapped data keys in the main database (no separate key database "
                  "configured)")),
        Measure("keys", "blind-index-keys",
                ngettext("%(num)d blind-index key: exact lookups by keyed HMAC, never by clear "
                         "value",
                         "%(num)d blind-index keys: exact lookups by keyed HMAC, never by clear "
                         "value", len(config.blind_index_key_ids))),
        Measure("keys", "signing-keys",
                _("%(audit)s and %(receipt)s (Ed25519)", audit=audit_keys, receipt=receipt_keys)),
        Measure("keys", "crypto-shredding",
                _("erasure destroys the owner's data key: their values are unreadable, "
                  "in backups too")),
    ]


def audit_measures(config: RunningConfiguration) -> list[Measure]:
    """The tamper-evident trail of every access."""
    return [
        Measure("audit", "hash-chain",
                _("every view and reveal of a customer record and every change is an audit "
                  "entry in a SHA-256 hash chain, without personal data")),
        Measure("audit", "sequencer",
                _("entries are linked into the chain within %(delay)s of their commit",
                  delay=_seconds(config.audit_sequence_delay))),
        Measure("audit", "checkpoints",
                _("the chain head is signed (Ed25519) every %(every)s; verification names the "
                  "first broken entry", every=_seconds(config.audit_checkpoint_every))),
    ]


def access_measures(config: RunningConfiguration) -> list[Measure]:
    """The role matrix, sign-in and session rules."""
    found = [
        Measure("access", f"role-{role.value}",
                _("may: %(permissions)s", permissions=", ".join(
                    sorted(p.value for p in ROLE_PERMISSIONS.get(role, ())))) if
                ROLE_PERMISSIONS.get(role) else _("may: sign in only"))
        for role in StaffRole
    ]
    found += [
        Measure("access", "staff-sign-in",
                _("password (argon2id) and a time-based one-time code (TOTP) for every staff "
                  "account; sessions end after %(minutes)s idle minutes",
                  minutes=config.staff_idle_minutes)),
        Measure("access", "masking",
                _("staff screens show masked values until a reason is given; every reveal is "
                  "audited and shown to the customer")),
    ]
    return found


def transport_measures(config: RunningConfiguration) -> list[Measure]:
    """TLS and HSTS as the running mode sends them."""
    if config.production:
        detail = (_("production: served behind a TLS proxy; HSTS sent over TLS (%(hsts)s)",
                    hsts=config.hsts)
                  if config.hsts else _("production: served behind a TLS proxy"))
    else:
        detail = _("development mode: no TLS or HSTS from the application (not for real data)")
    return [Measure("transport", "tls", detail),
            Measure("transport", "content-security-policy",
                    _("strict Content-Security-Policy: no inline script or style"))]


def rate_limit_measures(config: RunningConfiguration) -> list[Measure]:
    """Each configured rate limit."""
    return [Measure("rate-limits", name.lower().replace("_", "-"), limit)
            for name, limit in sorted(config.rate_limits.items())]


def measures_in_force(config: RunningConfiguration) -> list[Measure]:
    """Every technical and organisational measure, by area (Art. 30(1)(g), Art. 32)."""
    return (encryption_measures() + key_measures(config) + audit_measures(config)
            + access_measures(config) + transport_measures(config) + rate_limit_measures(config))
