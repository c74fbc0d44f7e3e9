"""The shapes of the image answers editors read (an upload grant, the logo's and hero's state),
for the API description.

The answers are plain dicts (shared/images/upload_urls.py, brand_images.py); these closed models
only describe them, and tests/test_openapi_admin_answers.py checks real answers against the
served description.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from shared.answer_shape import AnswerShape
from shared.store_answer_shapes import ImageOut

ImageType = Literal["image/jpeg", "image/png", "image/webp"]


class UploadHeadersOut(AnswerShape):
    """Send both with the PUT: Put Blob needs the blob type; the content type is the one asked
    for (advisory: the file's bytes decide what it is)."""

    blob_type: Literal["BlockBlob"] = Field(alias="x-ms-blob-type")
    content_type: ImageType = Field(alias="Content-Type")


class UploadGrantOut(AnswerShape):
    """Where to PUT the file, until `expires_at`: at most `max_bytes`, one of `accepted_types`.
    The photo (or brand image) is `pending` until the file is processed; only the newest
    grant's upload counts."""

    upload_id: str
    upload_url: str
    method: Literal["PUT"]
    headers: UploadHeadersOut
    expires_at: datetime
    max_bytes: int
    accepted_types: list[ImageType]


class BrandImageOut(AnswerShape):
    """none: never uploaded; pending: a grant was handed out and no file processed since;
    ready: the theme shows `image`; removed: processed, but the theme no longer shows it;
    rejected: `reason` says why the file was refused (`image` keeps the one before, if any)."""

    status: Literal["none", "pending", "ready", "removed", "rejected"]
    reason: str | None
    image: ImageOut | None


class BrandImagesOut(AnswerShape):
    """`GET /api/v1/admin/branding/images`."""

    logo: BrandImageOut
    hero: BrandImageOut
