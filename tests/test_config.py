"""Configuration: production refuses to start without keys; development makes its own."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

from consentmgr import create_app
from consentmgr.config import ConfigError, load_settings

KEYS = "k1:" + base64.b64encode(b"k" * 32).decode()


def production(**overrides):
    env = {
        "CONSENTMGR_ENV": "production",
        "CONSENTMGR_MASTER_KEYS": KEYS,
        "CONSENTMGR_BLIND_INDEX_KEYS": KEYS,
        "CONSENTMGR_SECRET_KEY": "s" * 40,
        "CONSENTMGR_AUDIT_SIGNING_KEY": base64.b64encode(b"a" * 32).decode(),
        "CONSENTMGR_RECEIPT_SIGNING_KEY": base64.b64encode(b"r" * 32).decode(),
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


@pytest.mark.parametrize(
    "missing",
    ["CONSENTMGR_MASTER_KEYS", "CONSENTMGR_BLIND_INDEX_KEYS", "CONSENTMGR_SECRET_KEY"],
)
def test_production_start_without_a_key_fails_naming_it(tmp_path, missing):
    with pytest.raises(ConfigError) as caught:
        create_app(production(**{missing: None, "CONSENTMGR_INSTANCE_PATH": str(tmp_path)}))
    assert missing in str(caught.value) and "production" in str(caught.value)
    assert not (tmp_path / "dev-secrets.json").exists()


def test_production_reads_keys_from_a_mounted_file(tmp_path):
    key_file = tmp_path / "master-keys"
    key_file.write_text(KEYS + "\n")
    settings = load_settings(
        production(CONSENTMGR_MASTER_KEYS=None, CONSENTMGR_MASTER_KEYS_FILE=str(key_file)), tmp_path
    )
    assert settings.master_keys.current.id == "k1"


def test_unreadable_key_file_names_the_variable(tmp_path):
    with pytest.raises(ConfigError, match="CONSENTMGR_MASTER_KEYS_FILE: cannot read"):
        load_settings(production(CONSENTMGR_MASTER_KEYS=None,
                                 CONSENTMGR_MASTER_KEYS_FILE=str(tmp_path / "nope")), tmp_path)


def test_malformed_master_keys_name_the_variable(tmp_path):
    with pytest.raises(ConfigError, match="CONSENTMGR_MASTER_KEYS key 'k1': must be 32 bytes"):
        load_settings(production(CONSENTMGR_MASTER_KEYS="k1:" + base64.b64encode(b"x").decode()), tmp_path)


def test_development_generates_keys_once_with_a_loud_warning(tmp_path, capsys):
    first = load_settings({"CONSENTMGR_INSTANCE_PATH": str(tmp_path)}, tmp_path)
    assert "WARNING: development keys were generated" in capsys.readouterr().err
    second = load_settings({"CONSENTMGR_INSTANCE_PATH": str(tmp_path)}, tmp_path)
    assert first.master_keys == second.master_keys and first.secret_key == second.secret_key
    assert (tmp_path / "dev-secrets.json").stat().st_mode & 0o077 == 0
    assert first.database_url == f"sqlite:///{tmp_path / 'consentmgr.db'}"


def test_postgres_urls_use_psycopg_3(tmp_path):
    settings = load_settings(production(CONSENTMGR_DATABASE_URL="postgres://u@h/db"), tmp_path)
    assert settings.database_url == "postgresql+psycopg://u@h/db"


def test_bad_boolean_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="CONSENTMGR_SMTP_STARTTLS must be true or false"):
        load_settings(production(CONSENTMGR_SMTP_STARTTLS="maybe"), tmp_path)


def test_erasure_waits_for_the_dpo_unless_auto_approval_is_switched_on(tmp_path):
    assert load_settings(production(), tmp_path).requests_auto_approve_erasure is False
    for value in ("true", "1", "yes", "on"):
        settings = load_settings(production(CONSENTMGR_REQUESTS_AUTO_APPROVE_ERASURE=value), tmp_path)
        assert settings.requests_auto_approve_erasure is True
    settings = load_settings(production(CONSENTMGR_REQUESTS_AUTO_APPROVE_ERASURE="off"), tmp_path)
    assert settings.requests_auto_approve_erasure is False


def test_a_bad_auto_approval_value_is_a_clear_error_naming_the_variable(tmp_path):
    with pytest.raises(ConfigError,
                       match="CONSENTMGR_REQUESTS_AUTO_APPROVE_ERASURE must be true or false"):
        load_settings(production(CONSENTMGR_REQUESTS_AUTO_APPROVE_ERASURE="sometimes"), tmp_path)


@pytest.mark.parametrize("missing", ["CONSENTMGR_AUDIT_SIGNING_KEY", "CONSENTMGR_RECEIPT_SIGNING_KEY"])
def test_production_without_a_signing_key_fails_naming_it_and_how_to_make_one(tmp_path, missing):
    with pytest.raises(ConfigError) as caught:
        load_settings(production(**{missing: None}), tmp_path)
    message = str(caught.value)
    assert missing in message and "production" in message and "os.urandom(32)" in message


def test_production_reads_the_audit_signing_key_from_a_mounted_file(tmp_path):
    from consentmgr.crypto.signing import key_id, load_private_key

    key_file = tmp_path / "audit-key"
    key_file.write_text(base64.b64encode(b"f" * 32).decode() + "\n")
    settings = load_settings(production(CONSENTMGR_AUDIT_SIGNING_KEY=None,
                                        CONSENTMGR_AUDIT_SIGNING_KEY_FILE=str(key_file)), tmp_path)
    assert key_id(settings.audit_signing_key) == key_id(load_private_key(b"f" * 32, source="t"))


def test_malformed_signing_key_names_the_variable(tmp_path):
    with pytest.raises(ConfigError, match="CONSENTMGR_RECEIPT_SIGNING_KEY: an Ed25519 private key is 32 bytes"):
        load_settings(production(CONSENTMGR_RECEIPT_SIGNING_KEY=base64.b64encode(b"x").decode()), tmp_path)


def test_settings_repr_never_shows_signing_keys(tmp_path):
    settings = load_settings(production(), tmp_path)
    assert "signing_key" not in repr(settings)
    assert base64.b64encode(b"a" * 32).decode() not in repr(settings)


def test_development_adds_missing_signing_keys_to_an_existing_secrets_file(tmp_path, capsys):
    import json

    from consentmgr.config import DEV_SECRET_GENERATORS
    from consentmgr.crypto.signing import key_id

    older = {name: DEV_SECRET_GENERATORS[name]() for name in ("master_keys", "blind_index_keys", "secret_key")}
    path = tmp_path / "dev-secrets.json"
    path.write_text(json.dumps(older))
    path.chmod(0o600)
    settings = load_settings({"CONSENTMGR_INSTANCE_PATH": str(tmp_path)}, tmp_path)
    warning = capsys.readouterr().err
    assert "WARNING: development keys were generated" in warning
    assert "audit_signing_key, receipt_signing_key" in warning
    stored = json.loads(path.read_text())
    assert {k: stored[k] for k in older} == older  # existing keys untouched: data stays readable
    assert settings.master_keys.serialise() == older["master_keys"]
    assert path.stat().st_mode & 0o077 == 0
    again = load_settings({"CONSENTMGR_INSTANCE_PATH": str(tmp_path)}, tmp_path)
    assert "WARNING" not in capsys.readouterr().err and not again.generated_dev_secrets
    assert key_id(again.audit_signing_key) == key_id(settings.audit_signing_key)
    assert key_id(again.receipt_signing_key) != key_id(settings.audit_signing_key)


def test_limits_come_from_their_variables_into_the_app(tmp_path):
    app = create_app(production(
        CONSENTMGR_DATABASE_URL=f"sqlite:///{tmp_path / 'limits.db'}",
        CONSENTMGR_API_RATE_LIMIT="10 per second",
        CONSENTMGR_API_MAX_CONTENT_LENGTH="2048",
        CONSENTMGR_API_KEY_CACHE_SECONDS="0",
        CONSENTMGR_PORTAL_IDLE_MINUTES="30",
        CONSENTMGR_PORTAL_SIGN_IN_LIMIT_PER_ADDRESS="3 per hour",
        CONSENTMGR_STAFF_IDLE_MINUTES="5",
        CONSENTMGR_STAFF_ACCOUNT_RATE_LIMIT="4 per 10 minutes",
    ))
    assert app.config["API_RATE_LIMIT"] == "10 per second"
    assert app.config["API_MAX_CONTENT_LENGTH"] == 2048
    assert app.config["API_KEY_CACHE_SECONDS"] == 0
    assert app.config["PORTAL_IDLE_MINUTES"] == 30
    assert app.config["PORTAL_SIGN_IN_LIMIT_PER_ADDRESS"] == "3 per hour"
    assert app.config["PORTAL_SIGN_IN_LIMIT_PER_CLIENT"] == "20 per hour"  # unset: the default
    assert app.config["STAFF_IDLE_MINUTES"] == 5
    assert app.config["STAFF_ACCOUNT_RATE_LIMIT"] == "4 per 10 minutes"


@pytest.mark.parametrize(("name", "value", "message"), [
    ("CONSENTMGR_API_RATE_LIMIT", "lots", "must be a rate limit such as"),
    ("CONSENTMGR_STAFF_SIGN_IN_RATE_LIMIT", "5 per fortnight", "must be a rate limit such as"),
    ("CONSENTMGR_API_MAX_CONTENT_LENGTH", "1MB", "must be a whole number of at least 1"),
    ("CONSENTMGR_PORTAL_IDLE_MINUTES", "0", "must be a whole number of at least 1"),
    ("CONSENTMGR_API_KEY_CACHE_SECONDS", "-1", "must be a number of seconds from 0 to 3600"),
    ("CONSENTMGR_API_KEY_CACHE_SECONDS", "nan", "must be a number of seconds from 0 to 3600"),
])
def test_a_bad_limit_is_a_clear_error_naming_the_variable(tmp_path, name, value, message):
    with pytest.raises(ConfigError, match=f"{name} {message}"):
        load_settings(production(**{name: value}), tmp_path)


ROOT = Path(__file__).resolve().parent.parent


def _run(args, tmp_path, **env):
    """Run ``python ...`` or ``gunicorn ...`` from the venv in the project, with only ``env`` set."""
    program = {"python": sys.executable,
               "gunicorn": str(Path(sys.executable).with_name("gunicorn"))}[args[0]]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CONSENTMGR_")}
    clean.update(CONSENTMGR_INSTANCE_PATH=str(tmp_path), **env)
    return subprocess.run([program, *args[1:]], cwd=ROOT, env=clean, capture_output=True,
                          text=True, timeout=60)


def test_a_bad_setting_stops_the_wsgi_entry_point_with_one_clear_line(tmp_path):
    result = _run(["python", "-c", "import wsgi"], tmp_path, CONSENTMGR_API_RATE_LIMIT="lots")
    assert result.returncode == 1
    assert "consentmgr: configuration error: CONSENTMGR_API_RATE_LIMIT must be a rate limit" in result.stderr
    assert "Traceback" not in result.stderr


def test_gunicorn_refuses_to_start_once_instead_of_restarting_workers(tmp_path):
    result = _run(["gunicorn", "-c", "gunicorn.conf.py", "-b", "127.0.0.1:0", "wsgi:app"], tmp_path,
                  CONSENTMGR_ENV="production")
    assert result.returncode == 1
    assert result.stderr.count("consentmgr: configuration error: CONSENTMGR_MASTER_KEYS") == 1
    assert "Booting worker" not in result.stderr
