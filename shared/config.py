"""Settings from the environment (app settings in Azure, local.settings.json locally).

Validated once, at start.
"""

from __future__ import annotations

import functools
import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

# Values shipped in local.settings.example.json; refusing them outside development keeps a
# copied example file from reaching production.
DEV_QR_SIGNING_KEY = "stelly-dev-qr-signing-key-not-for-production"
_KEY_VAULT = "@Microsoft.KeyVault("


class SettingsError(RuntimeError):
    """A setting is missing or malformed; the message names it and never echoes a secret."""


class Settings(BaseModel):
    """Every app setting the code reads. Field aliases are the app-setting names."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    environment: Literal["development", "production"] = Field("production", alias="STELLY_ENV")
    storage_connection: SecretStr | None = Field(None, alias="AzureWebJobsStorage")
    # Identity-based storage in Azure (AzureWebJobsStorage__accountName etc.) has no string.
    storage_account_name: str | None = Field(None, alias="AzureWebJobsStorage__accountName")
    database_url: SecretStr = Field(alias="DATABASE_URL")
    database_pool_max: int = Field(10, alias="DATABASE_POOL_MAX", ge=1, le=200)
    webpubsub_connection: SecretStr | None = Field(None, alias="WEBPUBSUB_CONNECTION")
    webpubsub_endpoint: str | None = Field(None, alias="WEBPUBSUB_ENDPOINT")
    webpubsub_hub: str = Field("kitchen", alias="WEBPUBSUB_HUB", pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    auth_issuer: str = Field(alias="AUTH_ISSUER", min_length=1)
    auth_audience: str = Field(alias="AUTH_AUDIENCE", min_length=1)
    auth_jwks_url: str = Field(alias="AUTH_JWKS_URL", pattern=r"^https?://")
    platform_domain: str = Field(alias="PLATFORM_DOMAIN", pattern=r"^[a-z0-9.-]+$")
    frontdoor_id: str = Field("", alias="FRONTDOOR_ID")
    qr_signing_key: SecretStr = Field(alias="QR_SIGNING_KEY")
    assets_base_url: str = Field(alias="ASSETS_BASE_URL", pattern=r"^https?://")
    # Orders one client address may place per restaurant per minute (Front Door's WAF limits
    # raw request rates in front of this).
    order_rate_limit_per_minute: int = Field(
        30, alias="ORDER_RATE_LIMIT_PER_MINUTE", ge=1, le=100_000
    )

    @model_validator(mode="after")
    def _check_combinations(self) -> Settings:
        if self.storage_connection is None and self.storage_account_name is None:
            raise ValueError(
                "AzureWebJobsStorage (or AzureWebJobsStorage__accountName) is required"
            )
        if self.webpubsub_connection is None and self.webpubsub_endpoint is None:
            raise ValueError("WEBPUBSUB_CONNECTION or WEBPUBSUB_ENDPOINT is required")
        if self.environment == "production":
            self._check_production()
        return self

    def _check_production(self) -> None:
        key = self.qr_signing_key.get_secret_value()
        if key == DEV_QR_SIGNING_KEY or len(key) < 32:
            raise ValueError("QR_SIGNING_KEY must be a random secret of 32+ characters")
        # Signing keys fetched in clear text could be swapped on the way (RFC 8414: https);
        # storefronts are https, so http assets would be blocked as mixed content.
        for name, url in (("AUTH_JWKS_URL", self.auth_jwks_url),
                          ("ASSETS_BASE_URL", self.assets_base_url)):  # fmt: skip
            if not url.startswith("https://"):
                raise ValueError(f"{name} must be an https:// URL in production")
        # Front Door rewrites Host to the app's own name: without its id no request's
        # X-Forwarded-Host is trusted, and every restaurant would be a 404.
        if not self.frontdoor_id:
            raise ValueError("FRONTDOOR_ID (the Front Door profile's id) is required in production")

    @property
    def is_development(self) -> bool:
        return self.environment == "development"


def _describe(error: ValidationError) -> str:
    """Name each failing setting by its app-setting name, without the value (may be a secret)."""
    lines = []
    for item in error.errors():
        name = ".".join(str(p) for p in item["loc"]) or "settings"
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"  {name}: {message}")
    return "Invalid app settings:\n" + "\n".join(lines)


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Build Settings from environ (default os.environ); SettingsError names what is wrong."""
    source = os.environ if environ is None else environ
    names = {field.alias for field in Settings.model_fields.values() if field.alias}
    # Empty strings mean "not set", like an app setting left blank.
    values = {name: source[name] for name in names if source.get(name, "") != ""}
    # App Service passes a Key Vault reference it could not resolve through as its own text,
    # which would then sign QR codes (and anyone can guess it): refuse it, naming the setting.
    unresolved = sorted(name for name, value in values.items() if value.startswith(_KEY_VAULT))
    if unresolved:
        raise SettingsError(
            "Invalid app settings:\n"
            + "\n".join(
                f"  {name}: unresolved Key Vault reference; check the app identity's access "
                "to the vault and the secret's name"
                for name in unresolved
            )
        )
    try:
        return Settings.model_validate(values)
    except ValidationError as error:
        raise SettingsError(_describe(error)) from None


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, validated on first use."""
    return load_settings()
