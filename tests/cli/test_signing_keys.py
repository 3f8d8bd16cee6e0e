"""``flask keys generate-signing-key``: a new key for a signing-key ring, for operators."""

from __future__ import annotations

from consentmgr.config import load_settings
from consentmgr.crypto.signing import key_id, load_private_key
from tests.test_config import production


def test_generate_signing_key_prints_only_the_key_on_standard_output(app, tmp_path):
    result = app.test_cli_runner().invoke(args=["keys", "generate-signing-key"])

    assert result.exit_code == 0
    text = result.stdout.strip()
    key = load_private_key(text, source="generated")
    assert f"Key id (kid): {key_id(key)}" in result.stderr
    assert "FIRST in CONSENTMGR_RECEIPT_SIGNING_KEYS" in result.stderr
    # It is usable as the first key of a ring at once.
    settings = load_settings(production(CONSENTMGR_RECEIPT_SIGNING_KEY=None,
                                        CONSENTMGR_RECEIPT_SIGNING_KEYS=f"{text},"
                                        f"{production()['CONSENTMGR_RECEIPT_SIGNING_KEY']}"),
                             tmp_path)
    assert settings.receipt_signing_keys.ids[0] == key_id(key)


def test_two_generated_keys_differ(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["keys", "generate-signing-key"]).stdout
    second = runner.invoke(args=["keys", "generate-signing-key"]).stdout
    assert first != second
