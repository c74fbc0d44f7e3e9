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
    with pytest.raises(SettingsError, match="QR_SIGNING_KEY"):
        load_settings(
            {**PRODUCTION, "QR_SIGNING_KEY": "stelly-dev-qr-signing-key-not-for-production"}
        )
    assert load_settings(PRODUCTION).environment == "production"


# The app settings infra/app/function.bicep gives the Function App, with its Key Vault references
# resolved (DATABASE_URL, QR_SIGNING_KEY) and the azd parameters filled in.
PRODUCTION = {
    "AzureWebJobsStorage__accountName": "stabc123xyz",
    "STELLY_ENV": "production",
    "DATABASE_URL": "postgresql://stelly:s3cret-pw@psql-abc123xyz.postgres.database.azure.com/stelly",
    "DATABASE_POOL_MAX": "5",
    "WEBPUBSUB_ENDPOINT": "https://wps-abc123xyz.webpubsub.azure.com",
    "WEBPUBSUB_HUB": "kitchen",
    "AUTH_ISSUER": "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000001/v2.0",
    "AUTH_AUDIENCE": "api://stelly",
    "AUTH_JWKS_URL": (
        "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000001/discovery/v2.0/keys"
    ),
    "PLATFORM_DOMAIN": "stelly.com",
    "FRONTDOOR_ID": "55ce4ed1-4b06-4bf1-b40e-4638452104da",
    "QR_SIGNING_KEY": "Vb3q9xZ0pL7mN2rT8wY4cF6hJ1kS5dG0aQeR",
    "ASSETS_BASE_URL": "https://fde-abc123xyz-h5c9dzfzeyf0a8a3.z01.azurefd.net/assets",
    "ORDER_RATE_LIMIT_PER_MINUTE": "30",
}

# What App Service hands the app when a Key Vault reference does not resolve (identity not yet
# granted, vault firewall, secret renamed): "If a reference isn't resolved properly, the reference
# string is used instead" (learn.microsoft.com/azure/app-service/app-service-key-vault-references).
# These are exactly the strings function.bicep writes; the vault name kv-<token> shares its token
# with every public host name of the deployment (st<token> in upload URLs, fde-<token> in
# ASSETS_BASE_URL), so anyone can write this string down.
UNRESOLVED = {
    "QR_SIGNING_KEY": "@Microsoft.KeyVault(SecretUri=https://kv-abc123xyz.vault.azure.net/secrets/qr-signing-key)",
    "DATABASE_URL": "@Microsoft.KeyVault(SecretUri=https://kv-abc123xyz.vault.azure.net/secrets/database-url)",
}


@pytest.mark.parametrize("setting", sorted(UNRESOLVED))
def test_an_unresolved_key_vault_reference_is_refused(setting: str) -> None:
    # Accepted, QR_SIGNING_KEY would sign every QR code and order token with that guessable
    # text; DATABASE_URL would fail only on the first request.
    with pytest.raises(SettingsError, match=setting):
        load_settings({**PRODUCTION, setting: UNRESOLVED[setting]})


@pytest.mark.parametrize(
    "url",
    [
        "http://login.example.com/tenant/discovery/v2.0/keys",
        # devhost's dev identity, as local.settings.example.json names it
        "http://localhost:7071/.well-known/jwks.json",
    ],
)
def test_production_refuses_a_plain_http_jwks_url(url: str) -> None:
    # Keys fetched in clear text could be swapped on the way: anyone could be platform_admin.
    with pytest.raises(SettingsError, match="AUTH_JWKS_URL"):
        load_settings({**PRODUCTION, "AUTH_JWKS_URL": url})


def test_production_refuses_a_plain_http_assets_base_url() -> None:
    # https storefronts would be handed http image and font URLs: mixed content.
    with pytest.raises(SettingsError, match="ASSETS_BASE_URL"):
        load_settings(
            {**PRODUCTION, "ASSETS_BASE_URL": "http://127.0.0.1:10000/devstoreaccount1/assets"}
        )


def test_production_requires_frontdoor_id() -> None:
    # Behind Front Door no X-Forwarded-Host would be trusted: every restaurant a 404.
    with pytest.raises(SettingsError, match="FRONTDOOR_ID"):
        load_settings({**PRODUCTION, "FRONTDOOR_ID": ""})


def test_an_unknown_environment_stops_the_app_naming_the_two() -> None:
    with pytest.raises(SettingsError, match=r"STELLY_ENV.*'development' or 'production'"):
        load_settings({**PRODUCTION, "STELLY_ENV": "staging"})
