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
from shared.images.renditions import RenderedImage, render_upload
from shared.images.targets import UPLOADS_CONTAINER, Claim, UploadTarget, parse_upload_name
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


def _refused(
    claim: Claim, tenant: TenantRecord, records: ItemImages | BrandImages
) -> UploadOutcome:
    """The outcome for a claim other than OK; a deleted item is marked rejected."""
    if claim is Claim.SUPERSEDED:
        return UploadOutcome("superseded", "A newer upload replaced this one before it was used")
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
    tenant = _tenant(target.slug)
    if tenant is None:
        reason = f"No restaurant {target.slug} takes uploads"
        return _quarantined(target.blob_name, data, etag, UploadOutcome("rejected", reason))
    records = _records(tenant, target)
    with tenant_transaction(tenant.schema_name) as conn:
        claim = records.claim(conn)
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
    claim, image = _store_and_apply(tenant, target, records, rendered)
    storefront_menus.invalidate(tenant.schema_name)
    if image is None:
        # Superseded or deleted while rendering: nothing of ours was written or recorded.
        return _quarantined(target.blob_name, data, etag, _refused(claim, tenant, records))
    removed = _remove_unreferenced(tenant, target, records)
    blobs.delete_upload(target.blob_name, etag)
    log.info(
        "image upload %s ready: %d renditions, %d unreferenced removed",
        name, len(image["renditions"]), len(removed),
    )  # fmt: skip
    return UploadOutcome("ready", image=image)


# The target's row lock (claim(lock=True)) is held while renditions are written and recorded, and
# while a clean-up decides what to delete and deletes it: otherwise a clean-up could delete a
# newer upload's renditions between their writing and their recording, and the target would
# point at nothing. A rolled-back recording leaves unreferenced renditions; the next clean-up
# of the target removes them.


def _store_and_apply(
    tenant: TenantRecord,
    target: UploadTarget,
    records: ItemImages | BrandImages,
    rendered: RenderedImage,
) -> tuple[Claim, dict[str, Any] | None]:
    """Write the renditions and make them the target's image; no image (and nothing written)
    if the upload no longer counts."""
    with tenant_transaction(tenant.schema_name) as conn:
        claim = records.claim(conn, lock=True)
        if claim is not Claim.OK:
            return claim, None
        image = blobs.store_renditions(target, rendered)
        records.apply(conn, image)
    return claim, image


def _remove_unreferenced(
    tenant: TenantRecord, target: UploadTarget, records: ItemImages | BrandImages
) -> list[str]:
    with tenant_transaction(tenant.schema_name) as conn:
        records.claim(conn, lock=True)
        keep = blobs.referenced_hashes(target, records.documents(conn))
        return blobs.remove_unreferenced(target, keep)
