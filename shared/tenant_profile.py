"""Changing what the request path caches about a tenant: settings, theme, display name.

The order is the contract of design §3: Postgres first (the source of truth, version checked and
bumped), then the Table Storage directory entry of every domain, then the local cache entry;
readers in other processes see the change within their cache TTL. A crash or a storage error
between the steps leaves the directory stale until the entry ages out (DIRECTORY_MAX_AGE_S).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import psycopg
from azure.core.exceptions import AzureError
from psycopg.types.json import Jsonb

from shared import errors
from shared.db import transaction
from shared.directory import DIRECTORY_MAX_AGE_S, directory_put
from shared.tenancy import TenantResolver
from shared.tenancy import resolver as default_resolver
from shared.tenants import TENANT_COLUMNS, TenantRecord, domains_of
from shared.versioning import Expected

logger = logging.getLogger("stelly.tenancy")


def update_tenant_profile(
    *,
    tenant_id: str,
    expected: Expected | None = None,
    settings: dict[str, Any] | None = None,
    theme: dict[str, Any] | None = None,
    display_name: str | None = None,
    resolver: TenantResolver | None = None,
    keep_theme_assets: bool = False,
) -> TenantRecord:
    """Replace the given parts of a tenant's profile; 404 unknown, 412/409 when expected is stale.

    Callers validate settings (RestaurantSettings) and theme (ThemeTokens) first; None keeps a
    part as it is, and `keep_theme_assets` keeps the stored logo and hero under a new theme.
    Returns the new record, whose `version` is the next ETag.
    """
    with transaction() as conn:
        saved = save_tenant_profile(
            conn,
            tenant_id=tenant_id,
            expected=expected,
            settings=settings,
            theme=theme,
            display_name=display_name,
            keep_theme_assets=keep_theme_assets,
        )
    spread_tenant_profile(saved, resolver)
    return saved.record


@dataclass(frozen=True)
class SavedProfile:
    """A profile written in a transaction, and the domains its directory entries are under."""

    record: TenantRecord
    domains: list[str]


def save_tenant_profile(
    conn: psycopg.Connection,
    *,
    tenant_id: str,
    expected: Expected | None = None,
    settings: dict[str, Any] | None = None,
    theme: dict[str, Any] | None = None,
    display_name: str | None = None,
    keep_theme_assets: bool = False,
) -> SavedProfile:
    """The Postgres step of update_tenant_profile, in the caller's transaction (one that already
    holds a pooled connection must not ask the pool for a second: with a pool of one, it waits
    for itself). Call spread_tenant_profile once that transaction has committed."""
    current = conn.execute(
        """select version, settings_version, theme_version, status, theme
             from public.tenants where id = %s for update""",
        [tenant_id],
    ).fetchone()
    if current is None:
        raise errors.not_found("No such restaurant")
    if current["status"] in ("deleting", "deleted"):
        # An instance whose cache still shows it active: the tombstone keeps no profile.
        raise errors.gone("This restaurant has closed its storefront")
    if expected is not None:
        # Stale only when a part this write replaces changed after the version the writer
        # read (registry migration 0005): a logo finishing is no conflict for the settings.
        changed_at = max(
            current["settings_version"] if settings is not None or display_name is not None else 0,
            current["theme_version"] if theme is not None else 0,
        )
        expected.check_since(changed_at, current["version"], "restaurant profile")
    if theme is not None and keep_theme_assets and "assets" in (current["theme"] or {}):
        # Under the row lock, so a logo that went live a moment ago is the one kept.
        theme = {**theme, "assets": current["theme"]["assets"]}
    row = conn.execute(
        f"""update public.tenants t
               set settings = coalesce(%s, t.settings),
                   theme = coalesce(%s, t.theme),
                   display_name = coalesce(%s, t.display_name),
                   version = t.version + 1,
                   updated_at = now()
             where t.id = %s
         returning {TENANT_COLUMNS}""",
        [
            Jsonb(settings) if settings is not None else None,
            Jsonb(theme) if theme is not None else None,
            display_name,
            tenant_id,
        ],
    ).fetchone()
    return SavedProfile(TenantRecord.from_row(row), domains_of(conn, tenant_id))


def spread_tenant_profile(saved: SavedProfile, resolver: TenantResolver | None = None) -> None:
    """The directory entry of every domain, then this process's cache (after the commit)."""
    resolver = resolver or default_resolver
    for domain in saved.domains:
        try:
            directory_put(domain, saved.record)
        except AzureError as error:
            # Saved in Postgres, which is what counts: answering 503 would make the client retry
            # a change that is already made (and get 412). The entry ages out instead.
            logger.warning(
                "directory entry of %s not updated (%s); other processes see the change within"
                " %s s",
                domain,
                type(error).__name__,
                DIRECTORY_MAX_AGE_S,
            )
        resolver.invalidate(domain)
