"""The image pipeline's blobs: renditions in `assets`, originals in `uploads`, quarantine.

Renditions are named by content hash and never rewritten, so they can be cached for a year; a
second write of the same name is skipped, which makes duplicate deliveries cheap and harmless.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.storage.blob import BlobProperties, ContentSettings

from shared.config import get_settings
from shared.images.limits import MAX_UPLOAD_BYTES
from shared.images.renditions import RenderedImage
from shared.images.targets import (
    ASSETS_CONTAINER,
    QUARANTINE_CONTAINER,
    UPLOADS_CONTAINER,
    UploadTarget,
)
from shared.storage import blob_service

IMMUTABLE = "public, max-age=31536000, immutable"
# An unreferenced rendition younger than this is left alone by clean-ups: an upload writes its
# renditions before it records them (outside any lock, so no menu writer waits on storage) and
# records them within functionTimeout (5 minutes); and a storefront that fetched the menu just
# before a new photo still finds the old one's files.
RENDITION_GRACE = timedelta(minutes=10)


@functools.cache
def ensure_container(name: str) -> None:
    """Create a container once per process if it is missing (Azurite starts empty).

    `assets` is created with anonymous blob reads, as infra declares it in Azure, so
    ASSETS_BASE_URL works locally too. The quarantine container exists only here.
    """
    access = "blob" if name == ASSETS_CONTAINER else None
    with contextlib.suppress(ResourceExistsError):
        blob_service().create_container(name, public_access=access)


def confirm_container(name: str) -> None:
    """Ask storage for the container (creating it if missing): raises while storage is down.

    Upload URLs are signed locally (with the account key, or a user delegation key cached for
    hours), so without this request a warm instance would hand out URLs that cannot work, and
    mark their targets pending, while blob storage is unreachable.
    """
    try:
        # Two short tries: a stalled storage is a 503 in seconds, well before Front Door's 60 s.
        blob_service().get_container_client(name).get_container_properties(
            connection_timeout=3, read_timeout=3, retry_total=1
        )
    except ResourceNotFoundError:
        ensure_container.__wrapped__(name)  # past the cache: it was deleted since


def asset_url(blob_name: str) -> str:
    """The public URL of an assets blob, under ASSETS_BASE_URL."""
    return f"{get_settings().assets_base_url.rstrip('/')}/{blob_name}"


def store_renditions(target: UploadTarget, rendered: RenderedImage) -> dict[str, Any]:
    """Write rendered's renditions (skipping those already there); the image's JSON record."""
    ensure_container(ASSETS_CONTAINER)
    container = blob_service().get_container_client(ASSETS_CONTAINER)
    settings = ContentSettings(content_type="image/webp", cache_control=IMMUTABLE)
    entries = []
    for rendition in rendered.renditions:
        name = f"{target.assets_prefix}{rendered.content_hash}-{rendition.width}.webp"
        # Same name, same bytes: an earlier delivery wrote it, and it must not change.
        with contextlib.suppress(ResourceExistsError):
            container.upload_blob(name, rendition.webp, overwrite=False, content_settings=settings)
        entries.append(
            {"width": rendition.width, "height": rendition.height, "url": asset_url(name)}
        )
    largest = rendered.renditions[-1]
    return {
        "width": largest.width,
        "height": largest.height,
        "placeholder": rendered.placeholder,
        "renditions": entries,
    }


# `<slug>/<target>/<hash>`: one image's renditions (every width) share it. Not preceded by a
# slug character, so `.../assets/pizza/...` in a URL yields `pizza/...`, not more.
_STEM = re.compile(
    r"(?<![a-z0-9-])([a-z][a-z0-9-]{2,30}/(?:item-[0-9a-f-]{36}|logo|hero)/[0-9a-f]{32})-\d+\.webp"
)


def referenced_images(documents: Iterable[str]) -> set[str]:
    """The images (`<slug>/<target>/<hash>`) whose renditions documents (JSON text) name."""
    return {found for document in documents for found in _STEM.findall(document)}


def list_assets(prefix: str) -> list[BlobProperties]:
    """The blobs in the assets container whose names start with prefix."""
    container = blob_service().get_container_client(ASSETS_CONTAINER)
    try:
        return list(container.list_blobs(name_starts_with=prefix))
    except ResourceNotFoundError:
        return []


def remove_unreferenced(listed: Iterable[BlobProperties], keep: set[str]) -> list[str]:
    """Delete the listed blobs that are renditions of images not in keep (see
    referenced_images) and older than RENDITION_GRACE; the names deleted."""
    container = blob_service().get_container_client(ASSETS_CONTAINER)
    cutoff = datetime.now(UTC) - RENDITION_GRACE
    removed = []
    for blob in listed:
        found = _STEM.fullmatch(blob.name)
        if found is None or found[1] in keep or blob.last_modified > cutoff:
            continue
        with contextlib.suppress(ResourceNotFoundError):  # A concurrent clean-up was first.
            container.delete_blob(blob.name)
        removed.append(blob.name)
    return removed


def delete_renditions(image: dict[str, Any]) -> None:
    """Delete the renditions of image (what store_renditions returned), whatever their age."""
    container = blob_service().get_container_client(ASSETS_CONTAINER)
    base = asset_url("")
    for entry in image["renditions"]:
        with contextlib.suppress(ResourceNotFoundError):
            container.delete_blob(entry["url"].removeprefix(base))


def delete_upload(name: str, etag: str | None) -> None:
    """Delete an original, unless it was overwritten since delivery (that fires on its own)."""
    client = blob_service().get_blob_client(UPLOADS_CONTAINER, name)
    condition: dict[str, Any] = {}
    if etag:
        # Hosts hand ETags over bare or quoted; the If-Match header wants them quoted.
        quoted = '"' + etag.strip('"') + '"'
        condition = {"etag": quoted, "match_condition": MatchConditions.IfNotModified}
    # Already gone (a duplicate delivery) or replaced by a newer upload: nothing to do.
    with contextlib.suppress(ResourceNotFoundError, ResourceModifiedError):
        client.delete_blob(**condition)


def quarantine(name: str, data: bytes, reason: str, etag: str | None) -> None:
    """Keep a rejected original out of `uploads` (for inspection), with the reason as metadata.

    An original over MAX_UPLOAD_BYTES is not copied (an upload URL cannot cap the size, so it
    could be gigabytes): its quarantine entry is empty and records the size it had.
    """
    ensure_container(QUARANTINE_CONTAINER)
    metadata = {"reason": reason.encode("ascii", "replace").decode()[:1024]}
    kept = data
    if len(data) > MAX_UPLOAD_BYTES:
        kept, metadata["original_bytes"] = b"", str(len(data))
    blob_service().get_blob_client(QUARANTINE_CONTAINER, name).upload_blob(
        kept, overwrite=True, metadata=metadata
    )
    delete_upload(name, etag)
