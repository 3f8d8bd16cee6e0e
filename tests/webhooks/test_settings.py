"""The webhooks' CONSENTMGR_* settings: read once in config.py, a clear error on a bad value."""

from __future__ import annotations

import pytest

from consentmgr.config import ConfigError, load_settings
from consentmgr.webhooks.services import delivery_settings
from tests.test_config import production


def test_the_settings_reach_the_delivery_settings(tmp_path):
    settings = load_settings(production(CONSENTMGR_WEBHOOKS_ALLOW_PRIVATE="true",
                                        CONSENTMGR_WEBHOOKS_TIMEOUT_SECONDS="2.5"), tmp_path)
    config = settings.flask_config()
    assert config["WEBHOOKS_ALLOW_PRIVATE"] is True
    assert delivery_settings(config).timeout == 2.5
    assert delivery_settings({}).allow_private is False  # refused unless an operator allows


@pytest.mark.parametrize("name, value, words", [
    ("CONSENTMGR_WEBHOOKS_ALLOW_PRIVATE", "maybe", "must be true or false"),
    ("CONSENTMGR_WEBHOOKS_POLL_SECONDS", "0", "from 0.01 to 3600"),
    ("CONSENTMGR_WEBHOOKS_TIMEOUT_SECONDS", "soon", "number of seconds"),
])
def test_a_bad_value_is_a_clear_error_naming_the_setting(tmp_path, name, value, words):
    with pytest.raises(ConfigError, match=words) as caught:
        load_settings(production(**{name: value}), tmp_path)
    assert name in str(caught.value)


def test_the_lease_outlasts_the_slowest_answer():
    assert delivery_settings({"WEBHOOKS_TIMEOUT_SECONDS": 10.0}).lease.total_seconds() == 120
    assert delivery_settings({"WEBHOOKS_TIMEOUT_SECONDS": 300.0}).lease.total_seconds() == 630
