"""Images: upload URLs for item photos and brand images, their state, and the upload trigger.

The browser PUTs the file to the URL it gets here; the blob trigger (Event Grid in Azure,
devhost polling locally) hands the bytes to shared.images.pipeline.
"""

from __future__ import annotations

from typing import Literal

import azure.functions as func
from pydantic import BaseModel, ConfigDict, Field

from functions.http import Call, endpoint, json_response
from functions.row_http import EDITORS, path_id
from shared import errors
from shared.db import tenant_transaction
from shared.images.answer_shapes import BrandImagesOut, UploadGrantOut
from shared.images.brand_images import brand_image_states
from shared.images.limits import MAX_UPLOAD_BYTES
from shared.images.pipeline import process_upload
from shared.images.targets import BRAND_KINDS
from shared.images.upload_urls import request_brand_upload, request_item_upload

bp = func.Blueprint()

ContentType = Literal["image/jpeg", "image/png", "image/webp"]


class UploadRequest(BaseModel):
    """What the admin app is about to upload; `size` lets a too-large file fail before upload."""

    model_config = ConfigDict(extra="forbid")

    content_type: ContentType
    size: int | None = Field(None, ge=1, le=MAX_UPLOAD_BYTES, strict=True)


@bp.route(route="v1/admin/menu/items/{id:guid}/image-upload", methods=["POST"])
@endpoint(
    tenant=True,
    roles=EDITORS,
    body=UploadRequest,
    responses={200: UploadGrantOut},
    summary="An upload URL for a photo",
)
def admin_item_image_upload(call: Call) -> func.HttpResponse:
    """The item shows `image_status: pending` until the uploaded file is processed."""
    grant = request_item_upload(
        tenant=call.require_tenant(), item_id=path_id(call), content_type=call.body.content_type
    )
    return json_response(grant)


@bp.route(route="v1/admin/branding/{kind:alpha}/image-upload", methods=["POST"])
@endpoint(
    tenant=True,
    roles=EDITORS,
    body=UploadRequest,
    responses={200: UploadGrantOut},
    summary="An upload URL for logo/hero",
)
def admin_brand_image_upload(call: Call) -> func.HttpResponse:
    kind = call.route.get("kind", "")
    if kind not in BRAND_KINDS:
        raise errors.not_found(f"Brand images are {' and '.join(BRAND_KINDS)}, not {kind!r}")
    grant = request_brand_upload(
        tenant=call.require_tenant(), kind=kind, content_type=call.body.content_type
    )
    return json_response(grant)


@bp.route(route="v1/admin/branding/images", methods=["GET"])
@endpoint(
    tenant=True,
    roles=EDITORS,
    responses={200: BrandImagesOut},
    summary="Logo and hero: status, reason, renditions",
)
def admin_brand_images(call: Call) -> func.HttpResponse:
    tenant = call.require_tenant()
    with tenant_transaction(tenant.schema_name) as conn:
        return json_response(brand_image_states(conn, tenant.slug))


@bp.blob_trigger(
    arg_name="blob",
    path="uploads/{name}",
    connection="AzureWebJobsStorage",
    source=func.BlobSource.EVENT_GRID,
)
def process_image_upload(blob: func.InputStream) -> None:
    """Bad files are handled inside (never raised); only infrastructure failures are retried."""
    etag = (blob.blob_properties or {}).get("ETag")
    process_upload(name=blob.name or "", data=blob.read(), etag=etag)
