"""Settings, read once from ``CONSENTMGR_*`` environment variables.

Nothing else in the package reads ``os.environ``. In development, missing
keys and the secret are generated into ``instance/dev-secrets.json`` with a
loud warning; with ``CONSENTMGR_ENV=production`` the application refuses to
start and names the missing variable.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from limits import parse_many

from consentmgr.crypto import KeyConfigError, KeyRing, generate_keyring, parse_keyring
from consentmgr.crypto.signing import (
    PrivateKey,
    SigningKeyRing,
    generate_private_key_text,
    load_private_key,
    parse_signing_keyring,
)

log = logging.getLogger(__name__)

PREFIX = "CONSENTMGR_"
DEV_SECRETS_FILE = "dev-secrets.json"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    """The configuration cannot be used; the message names the variable."""


@dataclass(frozen=True)
class SmtpSettings:
    """Outgoing mail; ``host`` unset means mail is printed to the console."""

    host: str | None = None
    port: int = 25
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str = "privacy@localhost"
    starttls: bool = False


@dataclass(frozen=True)
class Settings:
    """Every setting the application uses, parsed and validated."""

    env: str
    instance_path: Path
    database_url: str
    keys_database_url: str | None
    master_keys: KeyRing = field(repr=False)
    blind_index_keys: KeyRing = field(repr=False)
    secret_key: str = field(repr=False)
    # Ed25519 key rings kept outside the database: the audit keys sign checkpoints
    # of the audit chain, the receipt keys sign consent receipts. In each ring
    # the first key signs and every key verifies (what was signed before a rotation).
    audit_signing_keys: SigningKeyRing = field(repr=False)
    receipt_signing_keys: SigningKeyRing = field(repr=False)
    base_url: str
    ratelimit_storage_url: str
    policies_dir: Path
    smtp: SmtpSettings
    generated_dev_secrets: bool = False
    # CONSENTMGR_REQUESTS_AUTO_APPROVE_ERASURE: approve an erasure request as
    # soon as it is received (identity known) when no legal hold applies,
    # instead of waiting for the DPO. Off by default.
    requests_auto_approve_erasure: bool = False
    # CONSENTMGR_REPLICA_DATABASE_URL: a PostgreSQL streaming replica that
    # serves the consent checks (and nothing else); unset, they read the primary.
    replica_database_url: str | None = None
    # Operational limits set by CONSENTMGR_<NAME>, for app.config[<NAME>] (see TUNABLES).
    tuning: Mapping[str, object] = field(default_factory=dict)

    @property
    def audit_signing_key(self) -> PrivateKey:
        """The key that signs new audit checkpoints (the first of the ring)."""
        return self.audit_signing_keys.current

    @property
    def receipt_signing_key(self) -> PrivateKey:
        """The key that signs new consent receipts (the first of the ring)."""
        return self.receipt_signing_keys.current

    @property
    def production(self) -> bool:
        """True when running with ``CONSENTMGR_ENV=production``."""
        return self.env == "production"

    def flask_config(self) -> dict[str, object]:
        """The Flask and extension settings derived from these settings."""
        config: dict[str, object] = {
            "SECRET_KEY": self.secret_key,
            "SQLALCHEMY_DATABASE_URI": self.database_url,
            "SQLALCHEMY_ENGINE_OPTIONS": _engine_options(self.database_url),
            "RATELIMIT_STORAGE_URI": self.ratelimit_storage_url,
            **self.tuning,
        }
        if self.keys_database_url:
            config["SQLALCHEMY_BINDS"] = {
                "keys": {"url": self.keys_database_url, **_engine_options(self.keys_database_url)}
            }
        return config


def _engine_options(url: str) -> dict[str, object]:
    # hide_parameters: SQL errors must never carry values into logs.
    if url.startswith("sqlite"):
        # Wait for a writer instead of failing at once with "database is locked".
        return {"connect_args": {"timeout": 15}, "hide_parameters": True}
    # No pre-ping: the pool checks each connection's socket instead (see
    # consentmgr.extensions.tune_engines), which costs no round trip.
    return {"hide_parameters": True}


def _bool(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"{name} must be true or false, got {value!r}")


def _read_secret_file(name: str, path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read {path}: {exc.strerror}") from None


def _secret(environ: Mapping[str, str], name: str) -> tuple[str | None, str]:
    """The value of ``name``, or of the file named by ``name_FILE``; and which it was."""
    text = environ.get(name)
    if not text and environ.get(f"{name}_FILE"):
        return _read_secret_file(f"{name}_FILE", environ[f"{name}_FILE"]), f"{name}_FILE"
    return text or None, name


def _keyring(environ: Mapping[str, str], name: str) -> KeyRing | None:
    text, source = _secret(environ, name)
    if not text:
        return None
    try:
        return parse_keyring(text, source=source)
    except KeyConfigError as exc:
        raise ConfigError(str(exc)) from None


def _signing_keyring(environ: Mapping[str, str], name: str) -> SigningKeyRing | None:
    """The ring from ``name_KEYS`` (several keys) or ``name_KEY`` (one key); either ``_FILE``.

    The singular variable predates rings and stays a ring of one; setting
    both is a mistake (which one would sign?), so it is refused.
    """
    many, many_source = _secret(environ, f"{name}_KEYS")
    one, one_source = _secret(environ, f"{name}_KEY")
    if many and one:
        raise ConfigError(
            f"{many_source} and {one_source} are both set: set {name}_KEYS only (the signing key "
            f"first, then the older keys that still verify); {name}_KEY is its one-key form"
        )
    try:
        if many:
            return parse_signing_keyring(many, source=many_source)
        if one:
            return SigningKeyRing.of(load_private_key(one, source=one_source))
    except KeyConfigError as exc:
        raise ConfigError(str(exc)) from None
    return None


# Every development secret and how to make it. A file written by an older
# version lacks the newer entries; they are added without touching the others.
DEV_SECRET_GENERATORS = {
    "master_keys": lambda: generate_keyring("dev1").serialise(),
    "blind_index_keys": lambda: generate_keyring("dev1").serialise(),
    "secret_key": lambda: secrets.token_urlsafe(48),
    "audit_signing_key": generate_private_key_text,
    "receipt_signing_key": generate_private_key_text,
}


def _dev_secrets(instance_path: Path) -> tuple[dict[str, str], list[str]]:
    """Load development keys from ``instance/``, generating missing ones.

    Returns the secrets and the names of those generated now (empty when the
    file was complete).
    """
    path = instance_path / DEV_SECRETS_FILE
    if path.exists():
        data = json.loads(path.read_text())
        missing = [name for name in DEV_SECRET_GENERATORS if not data.get(name)]
        if not missing:
            return data, []
        for name in missing:
            data[name] = DEV_SECRET_GENERATORS[name]()
        # Write a complete new file, then swap it in: never a half-written key file.
        tmp = path.with_name(f".{DEV_SECRETS_FILE}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2)
        os.replace(tmp, path)
        return data, missing
    instance_path.mkdir(parents=True, exist_ok=True)
    data = {name: generate() for name, generate in DEV_SECRET_GENERATORS.items()}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2)
    return data, list(data)


DEV_WARNING = """
************************************************************************
* WARNING: development keys were generated in {path}
* (generated now: {generated})
* They protect every personal field in this database. Losing them makes
* the data unreadable; sharing them exposes it. Never use them in
* production: set CONSENTMGR_ENV=production and provide
* CONSENTMGR_MASTER_KEYS, CONSENTMGR_BLIND_INDEX_KEYS and
* CONSENTMGR_SECRET_KEY, CONSENTMGR_AUDIT_SIGNING_KEYS and
* CONSENTMGR_RECEIPT_SIGNING_KEYS (see README, "Key management").
************************************************************************
"""


def load_settings(environ: Mapping[str, str], default_instance_path: str | Path) -> Settings:
    """Parse and validate the settings from an environment-like mapping."""
    env = environ.get(f"{PREFIX}ENV", "development").strip().lower()
    if env not in {"development", "production"}:
        raise ConfigError(f"{PREFIX}ENV must be 'development' or 'production', got {env!r}")
    instance_path = Path(environ.get(f"{PREFIX}INSTANCE_PATH") or default_instance_path)

    master_keys = _keyring(environ, f"{PREFIX}MASTER_KEYS")
    blind_index_keys = _keyring(environ, f"{PREFIX}BLIND_INDEX_KEYS")
    secret_key, _ = _secret(environ, f"{PREFIX}SECRET_KEY")
    audit_signing_keys = _signing_keyring(environ, f"{PREFIX}AUDIT_SIGNING")
    receipt_signing_keys = _signing_keyring(environ, f"{PREFIX}RECEIPT_SIGNING")

    generated = False
    if env == "production":
        for name, value in (
            ("CONSENTMGR_MASTER_KEYS (or CONSENTMGR_MASTER_KEYS_FILE)", master_keys),
            ("CONSENTMGR_BLIND_INDEX_KEYS (or CONSENTMGR_BLIND_INDEX_KEYS_FILE)", blind_index_keys),
            ("CONSENTMGR_SECRET_KEY (or CONSENTMGR_SECRET_KEY_FILE)", secret_key),
        ):
            if not value:
                raise ConfigError(f"{name} must be set when CONSENTMGR_ENV=production")
        for name, value in (
            (("CONSENTMGR_AUDIT_SIGNING_KEYS (or CONSENTMGR_AUDIT_SIGNING_KEY for one key; "
              "either with _FILE)"), audit_signing_keys),
            (("CONSENTMGR_RECEIPT_SIGNING_KEYS (or CONSENTMGR_RECEIPT_SIGNING_KEY for one key; "
              "either with _FILE)"), receipt_signing_keys),
        ):
            if not value:
                raise ConfigError(
                    f"{name} must be set when CONSENTMGR_ENV=production: the base64 of a 32-byte "
                    "Ed25519 private key, kept outside the database; make one with "
                    "'flask keys generate-signing-key' or: python3 -c "
                    "'import base64,os; print(base64.b64encode(os.urandom(32)).decode())'"
                )
        if len(secret_key or "") < 32:
            raise ConfigError("CONSENTMGR_SECRET_KEY must be at least 32 characters in production")
    elif not (master_keys and blind_index_keys and secret_key
              and audit_signing_keys and receipt_signing_keys):
        dev, generated_names = _dev_secrets(instance_path)
        generated = bool(generated_names)
        master_keys = master_keys or parse_keyring(dev["master_keys"], source=DEV_SECRETS_FILE)
        blind_index_keys = blind_index_keys or parse_keyring(
            dev["blind_index_keys"], source=DEV_SECRETS_FILE
        )
        secret_key = secret_key or dev["secret_key"]
        audit_signing_keys = audit_signing_keys or SigningKeyRing.of(
            _dev_private_key(dev, "audit_signing_key"))
        receipt_signing_keys = receipt_signing_keys or SigningKeyRing.of(
            _dev_private_key(dev, "receipt_signing_key"))
        if generated:
            print(DEV_WARNING.format(path=instance_path / DEV_SECRETS_FILE,
                                     generated=", ".join(generated_names)), file=sys.stderr)
        log.warning("using development keys from %s", instance_path / DEV_SECRETS_FILE)

    database_url = environ.get(f"{PREFIX}DATABASE_URL") or (
        f"sqlite:///{instance_path / 'consentmgr.db'}"
    )
    try:
        port = int(environ.get(f"{PREFIX}SMTP_PORT", "25"))
    except ValueError:
        raise ConfigError(f"{PREFIX}SMTP_PORT must be a number") from None
    smtp = SmtpSettings(
        host=environ.get(f"{PREFIX}SMTP_HOST") or None,
        port=port,
        username=environ.get(f"{PREFIX}SMTP_USERNAME") or None,
        password=environ.get(f"{PREFIX}SMTP_PASSWORD") or None,
        sender=environ.get(f"{PREFIX}SMTP_FROM") or "privacy@localhost",
        starttls=_bool(environ.get(f"{PREFIX}SMTP_STARTTLS", "false"), f"{PREFIX}SMTP_STARTTLS"),
    )
    return Settings(
        env=env,
        instance_path=instance_path,
        database_url=_normalise_database_url(database_url),
        keys_database_url=_normalise_database_url(environ[f"{PREFIX}KEYS_DATABASE_URL"])
        if environ.get(f"{PREFIX}KEYS_DATABASE_URL")
        else None,
        master_keys=master_keys,
        blind_index_keys=blind_index_keys,
        secret_key=secret_key,
        audit_signing_keys=audit_signing_keys,
        receipt_signing_keys=receipt_signing_keys,
        base_url=(environ.get(f"{PREFIX}BASE_URL") or "http://127.0.0.1:5000").rstrip("/"),
        ratelimit_storage_url=environ.get(f"{PREFIX}RATELIMIT_STORAGE_URL") or "memory://",
        policies_dir=Path(environ.get(f"{PREFIX}POLICIES_DIR") or PROJECT_ROOT / "policies"),
        smtp=smtp,
        generated_dev_secrets=generated,
        requests_auto_approve_erasure=_bool(
            environ.get(f"{PREFIX}REQUESTS_AUTO_APPROVE_ERASURE", "false"),
            f"{PREFIX}REQUESTS_AUTO_APPROVE_ERASURE"),
        replica_database_url=_replica_url(environ),
        tuning=_tuning(environ),
    )


def _rate_limit(value: str, name: str) -> str:
    try:
        parse_many(value)
    except ValueError:
        raise ConfigError(
            f"{name} must be a rate limit such as '6000 per minute' or '5 per 15 minutes', "
            f"got {value!r}"
        ) from None
    return value


def _whole_number(value: str, name: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise ConfigError(f"{name} must be a whole number of at least 1, got {value!r}")
    return number


def _link_days(value: str, name: str) -> int:
    number = _whole_number(value, name)
    if number > 3650:
        raise ConfigError(f"{name} must be a number of days from 1 to 3650, got {value!r}")
    return number


def _seconds(value: str, name: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0 <= number <= 3600:
        raise ConfigError(f"{name} must be a number of seconds from 0 to 3600, got {value!r}")
    return number


def _positive_seconds(value: str, name: str) -> float:
    # A wait or a timeout of 0 would spin a loop or fail every connection.
    number = _seconds(value, name)
    if number < 0.01:
        raise ConfigError(f"{name} must be a number of seconds from 0.01 to 3600, got {value!r}")
    return number


def _hop_count(value: str, name: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if not 0 <= number <= 10:
        raise ConfigError(f"{name} must be a number of proxies from 0 to 10, got {value!r}")
    return number


# CONSENTMGR_<NAME> sets app.config[<NAME>]; unset, each part keeps its default
# (in the module that uses it, and in the README's configuration table).
TUNABLES = {
    "API_RATE_LIMIT": _rate_limit,
    "API_MAX_CONTENT_LENGTH": _whole_number,
    "API_KEY_CACHE_SECONDS": _seconds,
    "PORTAL_IDLE_MINUTES": _whole_number,
    "PORTAL_SESSION_HOURS": _whole_number,  # absolute session lifetime (web/sessions.py)
    "PORTAL_SIGN_IN_LIMIT_PER_ADDRESS": _rate_limit,
    "PORTAL_SIGN_IN_LIMIT_PER_CLIENT": _rate_limit,
    "PORTAL_EMAIL_CHANGE_LIMIT": _rate_limit,
    "PORTAL_EMAIL_CHANGE_LIMIT_PER_CLIENT": _rate_limit,
    "STAFF_IDLE_MINUTES": _whole_number,
    "STAFF_SESSION_HOURS": _whole_number,
    "STAFF_SIGN_IN_RATE_LIMIT": _rate_limit,
    "STAFF_ACCOUNT_RATE_LIMIT": _rate_limit,
    # The edge (consentmgr/web/{headers,limits,outage}.py).
    "TRUSTED_PROXIES": _hop_count,
    "FORM_MAX_CONTENT_LENGTH": _whole_number,
    "UNAVAILABLE_RETRY_AFTER": _whole_number,
    # The background worker (consentmgr/cli/worker.py, consentmgr/jobs/runner.py).
    "WORKER_POLL_SECONDS": _seconds,
    "JOBS_LEASE_SECONDS": _whole_number,
    "JOBS_RETRY_SECONDS": _whole_number,
    # Days before a consent lapses that its renewal reminder is mailed (consentmgr/consent/expiry.py).
    "CONSENT_RENEWAL_NOTICE_DAYS": _whole_number,
    # How many days a mailed one-click unsubscribe link works (consentmgr/consent/unsubscribe.py).
    "UNSUBSCRIBE_LINK_DAYS": _link_days,
    # Notices of a material policy change mailed per minute (consentmgr/notices/services.py).
    "POLICY_NOTICE_RATE": _whole_number,
    # The consent check's per-process cache (consentmgr/consent/check_cache.py):
    # on by default on PostgreSQL; its size in customer/purpose rows.
    "CHECK_CACHE": _bool,
    "CHECK_CACHE_SIZE": _whole_number,
    # The audit sequencer (consentmgr/audit/sequencer.py, leader.py).
    "AUDIT_SEQUENCE_DELAY_SECONDS": _seconds,
    "AUDIT_CHECKPOINT_SECONDS": _whole_number,
    # Signed webhooks (consentmgr/webhooks/): private targets, the loop's poll, the HTTP timeout.
    "WEBHOOKS_ALLOW_PRIVATE": _bool,
    "WEBHOOKS_POLL_SECONDS": _positive_seconds,
    "WEBHOOKS_TIMEOUT_SECONDS": _positive_seconds,
}


def _tuning(environ: Mapping[str, str]) -> dict[str, object]:
    tuning: dict[str, object] = {}
    for name, parse in TUNABLES.items():
        value = (environ.get(PREFIX + name) or "").strip()
        if value:
            tuning[name] = parse(value, PREFIX + name)
    return tuning


def _dev_private_key(dev: Mapping[str, str], name: str) -> PrivateKey:
    try:
        return load_private_key(dev[name], source=f"{DEV_SECRETS_FILE} {name}")
    except KeyConfigError as exc:
        raise ConfigError(str(exc)) from None


def _replica_url(environ: Mapping[str, str]) -> str | None:
    url = environ.get(f"{PREFIX}REPLICA_DATABASE_URL")
    if not url:
        return None
    url = _normalise_database_url(url)
    if not url.startswith("postgresql"):
        raise ConfigError(f"{PREFIX}REPLICA_DATABASE_URL must be a PostgreSQL URL (a streaming "
                          "replica of CONSENTMGR_DATABASE_URL)")
    return url


def _normalise_database_url(url: str) -> str:
    # Operators paste "postgresql://..." (libpq form); we ship psycopg 3.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url
