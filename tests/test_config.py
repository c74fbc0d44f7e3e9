"""Settings: a missing or malformed one names itself; secrets never appear in the message."""

from __future__ import annotations

import pytest

from shared.config import SettingsError, load_settings
from tests.conftest import TEST_SETTINGS

BASE = {**TEST_SETTINGS, "DATABASE_URL": "postgresql://u:hunter2@db/x", "AzureWebJobsStorage": "x"}


def test_complete_settings_load() -> None:
    settings = load_settings(BASE)
    assert settings.is_development and settings.webpubsub_hub == "kitchen"


@pytest.mark.parametrize(
    "missing", ["DATABASE_URL", "AUTH_ISSUER", "AUTH_JWKS_URL", "QR_SIGNING_KEY"]
)
def test_missing_setting_is_named(missing: str) -> None:
    with pytest.raises(SettingsError, match=missing):
        load_settings({k: v for k, v in BASE.items() if k != missing})


def test_blank_setting_counts_as_missing() -> None:
    with pytest.raises(SettingsError, match="PLATFORM_DOMAIN"):
        load_settings({**BASE, "PLATFORM_DOMAIN": ""})


def test_malformed_setting_is_named_without_echoing_secrets() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({**BASE, "DATABASE_POOL_MAX": "lots", "AUTH_JWKS_URL": "ftp://keys"})
    message = str(raised.value)
    assert "DATABASE_POOL_MAX" in message and "AUTH_JWKS_URL" in message
    assert "hunter2" not in message
    assert "hunter2" not in repr(load_settings(BASE))


def test_either_storage_or_pubsub_form_is_required() -> None:
    without = {k: v for k, v in BASE.items() if k not in ("WEBPUBSUB_CONNECTION",)}
    with pytest.raises(SettingsError, match="WEBPUBSUB_CONNECTION or WEBPUBSUB_ENDPOINT"):
        load_settings(without)
    identity_storage = {k: v for k, v in BASE.items() if k != "AzureWebJobsStorage"}
    identity_storage["AzureWebJobsStorage__accountName"] = "stellyprod"
    assert load_settings(identity_storage).storage_account_name == "stellyprod"


def test_production_refuses_the_example_qr_key() -> None:
    production = {**BASE, "STELLY_ENV": "production"}
    with pytest.raises(SettingsError, match="QR_SIGNING_KEY"):
        load_settings(
            {**production, "QR_SIGNING_KEY": "stelly-dev-qr-signing-key-not-for-production"}
        )
    assert load_settings({**production, "QR_SIGNING_KEY": "k" * 40}).environment == "production"
