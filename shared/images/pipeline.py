"""The blob trigger's work: one upload in, renditions and a ready (or rejected) target out.

Nothing a file or its path can contain makes this raise: a bad file, a path naming another
tenant's item, a deleted item or a superseded upload is quarantined with its reason, and the
target (when there is one in this tenant) is marked rejected. What still raises is
infrastructure (database, storage), which the host retries and finally records as poison.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

from shared.db import tenant_transaction, transaction
from shared.images import blobs
from shared.images.brand_images import BrandImages
from shared.images.item_images import ItemImages
from shared.images.limits import ImageRejected
from shared.images.renditions import content_hash, render_upload
from shared.images.targets import UPLOADS_CONTAINER, Claim, UploadTarget, parse_upload_name
from shared.logs import log_context
from shared.menus.storefront import storefront_menus
from shared.tenants import TenantRecord, tenant_by_slug

log = logging.getLogger("stelly.images")

# Uploads for a tenant being provisioned, deleted or failed have nothing to attach to.
_SERVED_STATUSES = ("active", "suspended")


@dataclass(frozen=True)
class UploadOutcome:
    """What became of one delivery."""

    status: Literal["ready", "rejected", "superseded"]
    reason: str | None = None
    image: dict[str, Any] | None = None


def _records(tenant: TenantRecord, target: UploadTarget) -> ItemImages | BrandImages:
    item_id = target.item_id
    if item_id is not None:
        return ItemImages(item_id, target.upload_id)
    kind = "logo" if target.target == "logo" else "hero"
    return BrandImages(tenant, kind, target.upload_id)


def _quarantined(name: str, data: bytes, etag: str | None, outcome: UploadOutcome) -> UploadOutcome:
    blobs.quarantine(name, data, outcome.reason or outcome.status, etag)
    log.warning("image upload %s %s: %s", name, outcome.status, outcome.reason)
    return outcome


def _tenant(slug: str) -> TenantRecord | None:
    with transaction() as conn:
        record = tenant_by_slug(conn, slug)
    return record if record is not None and record.status in _SERVED_STATUSES else None


def _no_restaurant(target: UploadTarget, data: bytes, etag: str | None) -> UploadOutcome:
    reason = f"No restaurant {target.slug} takes uploads"
    return _quarantined(target.blob_name, data, etag, UploadOutcome("rejected", reason))


def _deleted_meanwhile(target: UploadTarget, image: dict[str, Any]) -> bool:
    """Whether the restaurant stopped taking uploads while this one rendered; if so, the
    renditions just written are deleted.

    Its deletion marks it `deleting` before it sweeps `assets/<slug>/`: renditions written after
    that sweep would stay public for good, and ones written before it are swept anyway.
    """
    if _tenant(target.slug) is not None:
        return False
    blobs.delete_renditions(image)
    return True


def _refused(
    claim: Claim, tenant: TenantRecord, records: ItemImages | BrandImages
) -> UploadOutcome:
    """The outcome for a claim other than OK; a deleted item is marked rejected."""
    if claim is Claim.SUPERSEDED:
        return UploadOutcome("superseded", "A newer upload replaced this one before it was used")
    if claim is Claim.USED:
        return UploadOutcome(
            "rejected", "This upload URL was used already; ask for a new one to change the image"
        )
    if claim is Claim.DELETED:
        reason = "The item was deleted before its image was processed"
        with tenant_transaction(tenant.schema_name) as conn:
            records.reject(conn, reason)
        return UploadOutcome("rejected", reason)
    return UploadOutcome(
        "rejected", f"There is no {records.describe()} in restaurant {tenant.slug}"
    )


def process_upload(*, name: str, data: bytes, etag: str | None = None) -> UploadOutcome:
    """Turn the upload blob `name` (bytes data, ETag etag) into renditions on its target.

    name is relative to the uploads container; a leading `uploads/` (as hosts pass it) is dropped.
    """
    name = name.removeprefix(f"{UPLOADS_CONTAINER}/")
    target = parse_upload_name(name)
    if target is None:
        return _quarantined(name, data, etag, UploadOutcome("rejected", "Not an upload path"))
    # A blob trigger has no request that set the log context: its lines name the restaurant.
    with log_context(tenant=target.slug, function="process_image_upload"):
        return _process(target, name, data, etag)


def _process(target: UploadTarget, name: str, data: bytes, etag: str | None) -> UploadOutcome:
    tenant = _tenant(target.slug)
    if tenant is None:
        return _no_restaurant(target, data, etag)
    records = _records(tenant, target)
    digest = content_hash(data)
    with tenant_transaction(tenant.schema_name) as conn:
        claim = records.claim(conn, digest)
    if claim is not Claim.OK:
        return _quarantined(target.blob_name, data, etag, _refused(claim, tenant, records))
    try:
        rendered = render_upload(data)
    except ImageRejected as rejected:
        if rejected.__cause__ is not None:
            log.info("decoder error for %s", name, exc_info=rejected.__cause__)
        with tenant_transaction(tenant.schema_name) as conn:
            records.reject(conn, rejected.reason)
        outcome = UploadOutcome("rejected", rejected.reason)
        return _quarantined(target.blob_name, data, etag, outcome)
    # Written before the target's row is locked (names are content hashes, so a redelivery
    # rewrites nothing), so no menu writer waits for storage; a clean-up leaves renditions this
    # young alone (blobs.RENDITION_GRACE), so it cannot delete them before they are recorded.
    image = blobs.store_renditions(target, rendered)
    try:
        with tenant_transaction(tenant.schema_name) as conn:
            claim = records.apply(conn, image, digest)
    except Exception:
        if _deleted_meanwhile(target, image):
            return _no_restaurant(target, data, etag)
        raise
    records.after_commit()
    storefront_menus.invalidate(tenant.schema_name)
    if _deleted_meanwhile(target, image):
        return _no_restaurant(target, data, etag)
    if claim is not Claim.OK:
        # Superseded or deleted while rendering: our renditions stay unreferenced and go with a
        # later clean-up.
        return _quarantined(target.blob_name, data, etag, _refused(claim, tenant, records))
    listed = blobs.list_assets(target.assets_prefix)
    with tenant_transaction(tenant.schema_name) as conn:
        keep = blobs.referenced_images(records.documents(conn))
    removed = blobs.remove_unreferenced(listed, keep)
    blobs.delete_upload(target.blob_name, etag)
    log.info(
        "image upload %s ready: %d renditions, %d unreferenced removed",
        name, len(image["renditions"]), len(removed),
    )  # fmt: skip
    return UploadOutcome("ready", image=image)
