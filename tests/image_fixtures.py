"""Images made in the tests, and the ways a test hands an upload to the real trigger function."""

from __future__ import annotations

import asyncio
import io
import os
import struct
import zlib
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from azure.functions.blob import InputStream
from azure.storage.blob import BlobProperties
from PIL import Image

from devhost.blob_triggers import BlobTriggerWatcher
from shared.images.targets import ASSETS_CONTAINER, QUARANTINE_CONTAINER, UPLOADS_CONTAINER
from shared.storage import blob_service
from tests.storefront_helpers import Api, build_small_menu, ok, owner_api

ORIENTATION = 0x0112
GPS_IFD = 0x8825


def photo(width: int, height: int, mode: str = "RGB") -> Image.Image:
    """Left half red, right half blue: orientation mistakes show as swapped colours."""
    image = Image.new(mode, (width, height), "blue")
    image.paste("red", (0, 0, width // 2, height))
    return image


def encoded(image: Image.Image, kind: str, **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, kind, **options)
    return out.getvalue()


def phone_jpeg(width: int = 1600, height: int = 1200, orientation: int = 6) -> bytes:
    """A landscape-stored JPEG whose EXIF says "rotate 90° clockwise", with camera and GPS tags."""
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[0x010F] = "PhoneMaker"
    exif[0x0110] = "Phone 15"
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 36.0)})
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><secret>home</secret></x:xmpmeta>'
    return encoded(photo(width, height), "JPEG", quality=90, exif=exif, xmp=xmp)


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height: a decompression bomb's calling card."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\0" * 1024, 9)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def bad_files() -> dict[str, tuple[bytes, str]]:
    """name → (bytes, words the rejection reason must contain)."""
    jpeg = encoded(photo(1200, 900), "JPEG", quality=95)
    return {
        "bomb": (png_claiming(50_000, 50_000), "megapixels"),
        "truncated": (jpeg[: len(jpeg) // 2], "damaged or truncated"),
        "text renamed .jpg": (b"Dear manager,\nthis is not a photo.\n" * 20, "not a JPEG, PNG"),
        "11 MB": (jpeg + b"\0" * (11 * 1024 * 1024 - len(jpeg)), "limited to 10.0 MB"),
    }


def put_with_grant(grant: dict[str, Any], data: bytes) -> httpx.Response:
    """What the browser does with an upload grant: one PUT with the headers it names."""
    return httpx.put(grant["upload_url"], content=data, headers=grant["headers"], timeout=30)


def uploads_name(grant: dict[str, Any]) -> str:
    """The blob name (inside `uploads`) of a grant's URL."""
    path = httpx.URL(grant["upload_url"]).path
    return path.split(f"/{UPLOADS_CONTAINER}/", 1)[1]


def trigger_function(app_functions: list) -> Callable[..., None]:
    found = [f for f in app_functions if f.get_function_name() == "process_image_upload"]
    return found[0].get_user_function()


def deliver(app_functions: list, name: str, data: bytes | None = None) -> None:
    """Invoke the trigger as the host does: the blob's bytes and properties as an InputStream."""
    client = blob_service().get_blob_client(UPLOADS_CONTAINER, name)
    props: BlobProperties | None = None
    if data is None:
        downloader = client.download_blob()
        data, props = downloader.readall(), downloader.properties
    properties = {"ETag": props.etag.strip('"')} if props else {}
    stream = InputStream(
        data=data, name=f"{UPLOADS_CONTAINER}/{name}", length=len(data), blob_properties=properties
    )
    trigger_function(app_functions)(blob=stream)


def poll_once(app_functions: list) -> list:
    """One devhost scan of `uploads` with the real app's functions, retries included."""

    async def run_sync(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(fn, *args, **kwargs)

    watcher = BlobTriggerWatcher(
        app_functions, os.environ["AzureWebJobsStorage"], run_sync=run_sync, backoff_base=0.01
    )
    return asyncio.run(watcher.poll_once())


def blob_names(container: str, prefix: str) -> list[str]:
    client = blob_service().get_container_client(container)
    if not client.exists():
        return []
    return sorted(blob.name for blob in client.list_blobs(name_starts_with=prefix))


def assets_under(prefix: str) -> list[str]:
    return blob_names(ASSETS_CONTAINER, prefix)


def quarantine_reason(name: str) -> str | None:
    client = blob_service().get_blob_client(QUARANTINE_CONTAINER, name)
    if not client.exists():
        return None
    return client.get_blob_properties().metadata.get("reason")


def upload_exists(name: str) -> bool:
    return blob_service().get_blob_client(UPLOADS_CONTAINER, name).exists()


def download_asset(url: str) -> tuple[bytes, Any]:
    """A rendition's bytes and properties, by its URL under ASSETS_BASE_URL."""
    name = url.split(f"/{ASSETS_CONTAINER}/", 1)[1]
    downloader = blob_service().get_blob_client(ASSETS_CONTAINER, name).download_blob()
    return downloader.readall(), downloader.properties


def grant_for(api: Api, item_id: str, content_type: str = "image/jpeg") -> dict[str, Any]:
    """An upload URL for the item's photo, as the admin app asks for one."""
    path = f"/v1/admin/menu/items/{item_id}/image-upload"
    return ok(api.post(path, json={"content_type": content_type}))


@pytest.fixture(name="menu")
def menu_fixture(client, tenants, auth_header) -> tuple[Api, dict[str, Any]]:
    """A tenant with one published item, and a manager's API."""
    api = owner_api(client, tenants.create(), auth_header, role="manager")
    item = build_small_menu(api)["item"]
    ok(api.post("/v1/admin/menu/publish"), 201)
    return api, item


def upload(api: Api, item_id: str, data: bytes) -> str:
    """Request an upload URL for the item, PUT data to it; the uploads blob name."""
    grant = grant_for(api, item_id)
    assert put_with_grant(grant, data).status_code == 201
    return uploads_name(grant)


def brand_grant(api: Api, kind: str) -> dict[str, Any]:
    return ok(
        api.post(f"/v1/admin/branding/{kind}/image-upload", json={"content_type": "image/png"})
    )


def brand_upload(api: Api, kind: str, data: bytes) -> str:
    grant = brand_grant(api, kind)
    assert put_with_grant(grant, data).status_code == 201
    return uploads_name(grant)


def logo_png(width: int, height: int) -> bytes:
    return encoded(Image.new("RGBA", (width, height), "red"), "PNG")


def item_view(api: Api, item_id: str) -> dict[str, Any]:
    return ok(api.get(f"/v1/admin/menu/items/{item_id}"))


def brand_states(api: Api) -> dict[str, Any]:
    return ok(api.get("/v1/admin/branding/images"))
