"""Configuration: production refuses to start without keys; development makes its own."""

from __future__ import annotations

import base64

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
