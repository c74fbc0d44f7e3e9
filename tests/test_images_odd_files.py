"""Odd files through the real upload URL and trigger: metadata browsers ignore, near misses."""

from __future__ import annotations

import io
import re
import struct
import zlib
from typing import Any

import pytest
from PIL import Image, ImageCms

from shared.images.renditions import render_upload
from tests.image_fixtures import (  # noqa: F401
    deliver,
    encoded,
    grant_for,
    menu_fixture,
    photo,
    put_with_grant,
    quarantine_reason,
    uploads_name,
)
from tests.storefront_helpers import Api, customer_api, ok


def upload_and_process(api: Api, item_id: str, data: bytes, app_functions) -> dict[str, Any]:
    """What the admin app and the trigger do with one file; the item's admin view afterwards."""
    grant = grant_for(api, item_id)
    assert put_with_grant(grant, data).status_code == 201
    deliver(app_functions, uploads_name(grant))
    return ok(api.get(f"/v1/admin/menu/items/{item_id}"))


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def with_malformed_exif(kind: str) -> bytes:
    """A sound 1600x1200 photo whose EXIF block is not TIFF-structured.

    The EXIF here is the text `repr()` of real EXIF bytes, as some tools wrote it (the
    `SyntaxError: not a TIFF file (header b"b'Exif\\\\x" not valid)` reports against
    stable-diffusion-webui and gradio, and Pillow issues #5528 and #8348 for PNGs whose eXIf
    chunk exiftool calls malformed). Browsers ignore such metadata and show the pixels.
    """
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    broken = repr(exif.tobytes()).encode()
    if kind == "PNG":
        png = encoded(photo(1600, 1200), "PNG")
        # After the 8-byte signature and the 25-byte IHDR chunk.
        return png[:33] + _png_chunk(b"eXIf", broken) + png[33:]
    return encoded(photo(1600, 1200), "WEBP", quality=90, exif=broken)


@pytest.mark.parametrize("kind", ["PNG", "WEBP"])
def test_a_photo_with_malformed_exif_metadata_goes_live(
    kind: str, menu, client, app_functions
) -> None:
    # Sound pixels, unreadable EXIF: browsers show the photo, so do we (upright as stored).
    api, item = menu
    data = with_malformed_exif(kind)
    assert Image.open(io.BytesIO(data)).convert("RGB").getpixel((10, 10))[0] > 200  # decodes

    admin = upload_and_process(api, item["id"], data, app_functions)

    assert admin["image_status"] == "ready", admin["image_reason"]
    assert [r["width"] for r in admin["image"]["renditions"]] == [320, 640, 1280]
    store = ok(customer_api(client, api.tenant).get("/v1/store/menu"))
    assert store["categories"][0]["items"][0]["image"] == admin["image"]


def _over_limit_files() -> dict[str, bytes]:
    jpeg = encoded(photo(1200, 900), "JPEG", quality=95)
    return {
        # One byte over 10 MiB (10,485,761 bytes).
        "10 MiB + 1 byte": jpeg + b"\0" * (10 * 1024 * 1024 + 1 - len(jpeg)),
        # 40,005,000 pixels: 5,000 over the 40-megapixel limit.
        "8001x5000": encoded(Image.new("L", (8001, 5000)), "PNG"),
    }


@pytest.mark.parametrize("name", list(_over_limit_files()))
def test_a_file_just_over_a_limit_reads_as_over_it(name: str, menu, app_functions) -> None:
    # Rounded to the nearest tenth it read "The file is 10.0 MB; images are limited to 10.0 MB".
    api, item = menu
    data = _over_limit_files()[name]
    grant = grant_for(api, item["id"])
    assert put_with_grant(grant, data).status_code == 201
    blob = uploads_name(grant)
    deliver(app_functions, blob)

    admin = ok(api.get(f"/v1/admin/menu/items/{item['id']}"))
    assert admin["image_status"] == "rejected"
    reason = admin["image_reason"]
    assert quarantine_reason(blob) == reason
    # The reason states the file's measure, then the limit: the first must read as more.
    stated, limit = (float(n) for n in re.findall(r"(\d+(?:\.\d+)?) (?:MB|megapixels)", reason))
    assert stated > limit, reason


def _tiff(entries: list[tuple[int, int, int, bytes]], extra: bytes = b"") -> bytes:
    """Little-endian EXIF: one IFD0 with `entries` (tag, type, count, 4-byte value)."""
    out = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        out += struct.pack("<HHI", tag, kind, count) + value
    return b"Exif\x00\x00" + out + struct.pack("<I", 0) + extra


def _phone_photo(orientation: int) -> bytes:
    """A 1600x1200 JPEG whose EXIF orientation is readable, but whose ResolutionUnit (a SHORT)
    a tool wrote as the text "2"."""
    exif = _tiff(
        [
            (0x0112, 3, 1, struct.pack("<HH", orientation, 0)),  # Orientation, SHORT
            (0x0128, 2, 2, b"2\x00\x00\x00"),  # ResolutionUnit as ASCII "2"
        ]
    )
    return encoded(photo(1600, 1200), "JPEG", quality=90, exif=exif)


def test_a_rotated_photo_with_one_mistyped_exif_tag_goes_live(menu, app_functions) -> None:
    # Only the orientation is read and undone: the rest of the EXIF is never rewritten (it
    # failed on one mistyped tag) nor written out.
    api, item = menu
    upright = upload_and_process(api, item["id"], _phone_photo(orientation=1), app_functions)
    assert upright["image_status"] == "ready", upright["image_reason"]

    rotated = upload_and_process(api, item["id"], _phone_photo(orientation=6), app_functions)

    assert rotated["image_status"] == "ready", rotated["image_reason"]
    # Stored 1600x1200, shown turned a quarter: 1200 wide.
    assert [r["width"] for r in rotated["image"]["renditions"]] == [320, 640, 1200]


def _red_and_blue_swapped_profile() -> bytes:
    """The sRGB profile with its red and blue primaries swapped: a real, valid RGB profile under
    which the pixel (200, 30, 30) is a blue."""
    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    (count,) = struct.unpack(">I", profile[128:132])
    entries = {bytes(profile[132 + 12 * i : 136 + 12 * i]): 132 + 12 * i for i in range(count)}
    red, blue = entries[b"rXYZ"], entries[b"bXYZ"]
    profile[red + 4 : red + 12], profile[blue + 4 : blue + 12] = (
        profile[blue + 4 : blue + 12],
        profile[red + 4 : red + 12],
    )
    return bytes(profile)


def test_a_photo_in_another_colour_space_is_converted_to_srgb() -> None:
    """A photo tagged with another RGB colour space is converted to sRGB (the renditions carry no
    profile), so its colours look as the camera meant."""
    source = Image.new("RGB", (700, 500), (200, 30, 30))
    rendered = render_upload(encoded(source, "PNG", icc_profile=_red_and_blue_swapped_profile()))
    image = Image.open(io.BytesIO(rendered.renditions[-1].webp))
    assert "icc_profile" not in image.info
    red, green, blue = image.convert("RGB").getpixel((10, 10))
    assert blue > 150 and red < 80 and green < 80
