"""The logo and hero image: their state in the tenant schema and their URL in the theme.

Storefronts read the URL from `theme.assets` (public.tenants), which changes as
update_tenant_profile changes it (Postgres, then the directory and request caches); the
renditions, placeholder and status live in the tenant's `brand_images` row.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from shared import errors
from shared.images.targets import BRAND_KINDS, BrandKind, Claim, already_used
from shared.tenant_profile import SavedProfile, save_tenant_profile, spread_tenant_profile
from shared.tenants import TenantRecord, tenant_by_slug
from shared.theming import DEFAULT_PRESET, preset_tokens
from shared.versioning import Expected


def _fresh_tenant(conn: psycopg.Connection, slug: str) -> TenantRecord:
    # On the connection the caller holds: asking the pool for a second one while holding one
    # waits for ever with a pool of one (infra/main.bicep may deploy that).
    record = tenant_by_slug(conn, slug)
    if record is None:
        raise errors.not_found("No such restaurant")
    return record


class BrandImages:
    """One brand image (logo or hero) of one tenant, for one upload."""

    def __init__(self, tenant: TenantRecord, kind: BrandKind, upload_id: UUID) -> None:
        self.tenant = tenant
        self.kind = kind
        self.upload_id = upload_id
        self._saved: SavedProfile | None = None

    def describe(self) -> str:
        """How a rejection reason names the target."""
        return f"pending {self.kind} upload"

    def request(self, conn: psycopg.Connection) -> None:
        """Mark the brand image pending for this upload (the current one stays until then)."""
        conn.execute(
            """insert into brand_images (kind, status, upload) values (%s, 'pending', %s)
               on conflict (kind) do update set status = 'pending', reason = null,
                   upload = excluded.upload, updated_at = now()""",
            [self.kind, self.upload_id],
        )

    def claim(self, conn: psycopg.Connection, content_hash: str, *, lock: bool = False) -> Claim:
        """Whether this upload, of these bytes, is still the one the brand image waits for."""
        row = conn.execute(
            "select upload, status, image from brand_images where kind = %s"
            + (" for update" if lock else ""),
            [self.kind],
        ).fetchone()
        if row is None:
            return Claim.MISSING
        if row["upload"] != self.upload_id:
            return Claim.SUPERSEDED
        if already_used(row["status"], row["image"], content_hash):
            return Claim.USED
        return Claim.OK

    def reject(self, conn: psycopg.Connection, reason: str) -> None:
        """Record why the upload was refused, if it is still the newest one of this kind."""
        conn.execute(
            """update brand_images set status = 'rejected', reason = %s, updated_at = now()
                where kind = %s and upload = %s""",
            [reason, self.kind, self.upload_id],
        )

    def apply(self, conn: psycopg.Connection, image: dict[str, Any], content_hash: str) -> Claim:
        """Point theme.assets at the largest rendition and record the image as ready.

        The row lock held here serialises uploads of this kind; a concurrent theme edit makes
        the version check fail, which raises, so the host retries with the newer theme.
        """
        claim = self.claim(conn, content_hash, lock=True)
        if claim is not Claim.OK:
            return claim
        record = _fresh_tenant(conn, self.tenant.slug)
        tokens = record.theme or preset_tokens(DEFAULT_PRESET)
        # Only this asset changes, to a URL of ours. The rest was validated when it was saved
        # and is kept as is: checking it again would fail this upload, on every retry and into
        # poison, over a logo nobody touched once ASSETS_BASE_URL has moved.
        assets = {**tokens.get("assets", {}), self.kind: image["renditions"][-1]["url"]}
        theme = {**tokens, "assets": assets}
        if theme != record.theme:
            self._saved = save_tenant_profile(
                conn,
                tenant_id=record.id,
                expected=Expected.of(record.version, from_if_match=False),
                theme=theme,
            )
        conn.execute(
            """update brand_images set image = %s, status = 'ready', reason = null,
                      updated_at = now() where kind = %s""",
            [Jsonb(image), self.kind],
        )
        return claim

    def after_commit(self) -> None:
        """The new theme to the directory and this process's cache, once apply's transaction
        has committed (design §3: Postgres first)."""
        if self._saved is not None:
            spread_tenant_profile(self._saved)
            self._saved = None

    def documents(self, conn: psycopg.Connection) -> list[str]:
        """What may reference this kind's renditions: its row and the current theme."""
        row = conn.execute("select image from brand_images where kind = %s", [self.kind]).fetchone()
        theme = _fresh_tenant(conn, self.tenant.slug).theme
        return [json.dumps(row["image"] if row else None), json.dumps(theme)]


def brand_image_states(conn: psycopg.Connection, slug: str) -> dict[str, dict[str, Any]]:
    """`{"logo": {"status", "reason", "image"}, "hero": {...}}` for the admin view.

    A processed image the theme no longer shows (a theme save took it off, or named another
    URL) is `removed`, not `ready`: the storefront is what a manager checks it against.
    """
    rows = {row["kind"]: row for row in conn.execute("select * from brand_images")}
    shown = (_fresh_tenant(conn, slug).theme or {}).get("assets") or {}
    return {kind: _state(rows.get(kind), shown.get(kind)) for kind in BRAND_KINDS}


def _state(row: dict[str, Any] | None, shown_url: str | None) -> dict[str, Any]:
    if row is None:
        return {"status": "none", "reason": None, "image": None}
    status = row["status"]
    if status == "ready" and not _shows(row["image"], shown_url):
        status = "removed"
    return {"status": status, "reason": row["reason"], "image": row["image"]}


def _shows(image: dict[str, Any] | None, url: str | None) -> bool:
    return bool(image and url) and any(r["url"] == url for r in image["renditions"])
