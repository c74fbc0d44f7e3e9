"""Upload URLs: a short-lived SAS that may only create or write one blob in `uploads`.

The browser PUTs the file straight to storage, so the API never carries image bytes. Locally
(Azurite, any connection string with an account key) the SAS is signed with the account key; in
Azure, where shared keys are disabled, it is a user-delegation SAS signed with a key the app's
managed identity obtains (role Storage Blob Delegator). The settings choose: a connection string
means account key, `AzureWebJobsStorage__accountName` alone means user delegation.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from azure.storage.blob import (
    BlobSasPermissions,
    BlobServiceClient,
    UserDelegationKey,
    generate_blob_sas,
)

from shared.config import Settings, get_settings
from shared.db import tenant_transaction
from shared.images.blobs import confirm_container
from shared.images.brand_images import BrandImages
from shared.images.item_images import ItemImages
from shared.images.limits import CONTENT_TYPES, MAX_UPLOAD_BYTES
from shared.images.targets import UPLOADS_CONTAINER, BrandKind, item_target
from shared.storage import blob_service
from shared.tenants import TenantRecord

UPLOAD_URL_LIFETIME = timedelta(minutes=10)
# The SAS starts a little in the past so a storage clock slightly behind ours still accepts it.
CLOCK_SKEW = timedelta(minutes=1)
# One delegation key signs many SAS; a new one is fetched when a SAS would outlive it.
DELEGATION_KEY_LIFETIME = timedelta(hours=2)

_delegation_lock = threading.Lock()
# account name → (key, its expiry)
_delegation_keys: dict[str, tuple[UserDelegationKey, datetime]] = {}


def _user_delegation_key(
    service: BlobServiceClient, now: datetime, until: datetime
) -> UserDelegationKey:
    """A delegation key valid at least until `until`; one request per DELEGATION_KEY_LIFETIME."""
    with _delegation_lock:
        cached = _delegation_keys.get(service.account_name)
        if cached is None or cached[1] < until:
            expiry = max(until, now + DELEGATION_KEY_LIFETIME)
            key = service.get_user_delegation_key(now - CLOCK_SKEW, expiry)
            cached = _delegation_keys[service.account_name] = (key, expiry)
        return cached[0]


def upload_sas(
    blob_name: str,
    *,
    now: datetime,
    expiry: datetime,
    settings: Settings | None = None,
    service: BlobServiceClient | None = None,
) -> str:
    """A create+write SAS for one blob of `uploads`: account key or user delegation by settings."""
    settings = settings or get_settings()
    service = service or blob_service()
    signing: dict[str, Any]
    if settings.storage_connection is not None:
        signing = {"account_key": service.credential.account_key}
    else:
        signing = {"user_delegation_key": _user_delegation_key(service, now, expiry)}
    return generate_blob_sas(
        service.account_name,
        UPLOADS_CONTAINER,
        blob_name,
        permission=BlobSasPermissions(create=True, write=True),
        start=now - CLOCK_SKEW,
        expiry=expiry,
        **signing,
    )


def _grant(
    tenant: TenantRecord,
    target: str,
    records: ItemImages | BrandImages,
    content_type: str,
    lifetime: timedelta,
) -> dict[str, Any]:
    """Sign the URL for a new upload id, then mark the target pending for it.

    Storage first: if it fails, no URL exists and the target must not wait for an upload that
    can never come. The URL is handed out only after the pending mark commits, so an upload
    never arrives before it.
    """
    confirm_container(UPLOADS_CONTAINER)
    blob_name = f"{tenant.slug}/{target}/{records.upload_id}"
    now = datetime.now(UTC)
    expiry = now + lifetime
    url = blob_service().get_blob_client(UPLOADS_CONTAINER, blob_name).url
    signed = f"{url}?{upload_sas(blob_name, now=now, expiry=expiry)}"
    with tenant_transaction(tenant.schema_name) as conn:
        records.request(conn)
    return {
        "upload_id": str(records.upload_id),
        "upload_url": signed,
        "method": "PUT",
        # Put Blob needs the blob type; the content type is advisory (the trigger sniffs bytes).
        "headers": {"x-ms-blob-type": "BlockBlob", "Content-Type": content_type},
        "expires_at": expiry.isoformat(),
        "max_bytes": MAX_UPLOAD_BYTES,
        "accepted_types": sorted(CONTENT_TYPES.values()),
    }


def request_item_upload(
    *,
    tenant: TenantRecord,
    item_id: UUID,
    content_type: str,
    lifetime: timedelta = UPLOAD_URL_LIFETIME,
) -> dict[str, Any]:
    """An upload URL for a menu item's photo; 404 unless the item is live in this menu."""
    records = ItemImages(item_id, uuid4())
    return _grant(tenant, item_target(item_id), records, content_type, lifetime)


def request_brand_upload(
    *,
    tenant: TenantRecord,
    kind: BrandKind,
    content_type: str,
    lifetime: timedelta = UPLOAD_URL_LIFETIME,
) -> dict[str, Any]:
    """An upload URL for the logo or hero image."""
    return _grant(tenant, kind, BrandImages(tenant, kind, uuid4()), content_type, lifetime)
