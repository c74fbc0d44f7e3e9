"""Upload bytes to renditions, without storage: sizes, orientation, metadata, colour, limits."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image, ImageCms

from shared.images.limits import ImageRejected
from shared.images.renditions import render_upload, rendition_sizes
from tests.image_fixtures import bad_files, encoded, phone_jpeg, photo


def opened(webp: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(webp))
    assert image.format == "WEBP"
    return image


@pytest.mark.parametrize(
    ("kind", "options"),
    [("JPEG", {"quality": 90}), ("PNG", {}), ("WEBP", {"quality": 90})],
)
def test_each_format_gives_three_webp_renditions(kind: str, options: dict) -> None:
    rendered = render_upload(encoded(photo(2000, 1500), kind, **options))
    sizes = [(r.width, r.height) for r in rendered.renditions]
    assert sizes == [(320, 240), (640, 480), (1280, 960)]
    for rendition in rendered.renditions:
        assert opened(rendition.webp).size == (rendition.width, rendition.height)
    assert rendered.placeholder.startswith("data:image/webp;base64,")
    placeholder = base64.b64decode(rendered.placeholder.split(",", 1)[1])
    assert opened(placeholder).size == (16, 12)
    assert len(rendered.placeholder) < 400


def test_a_portrait_phone_photo_comes_out_upright() -> None:
    # Stored 1600x1200 with orientation 6: shown rotated 90° clockwise, so the stored left
    # half (red) becomes the top half of a 1200x1600 portrait.
    rendered = render_upload(phone_jpeg(1600, 1200, orientation=6))
    largest = rendered.renditions[-1]
    assert (largest.width, largest.height) == (1200, 1600)
    image = opened(largest.webp).convert("RGB")
    top, bottom = image.getpixel((600, 200)), image.getpixel((600, 1400))
    assert top[0] > 200 and top[2] < 60, top
    assert bottom[2] > 200 and bottom[0] < 60, bottom


def test_metadata_is_stripped() -> None:
    rendered = render_upload(phone_jpeg())
    for rendition in rendered.renditions:
        image = opened(rendition.webp)
        assert not image.getexif()
        assert not {"exif", "xmp", "icc_profile"} & set(image.info)
        for marker in (b"EXIF", b"XMP ", b"ICCP", b"PhoneMaker", b"secret"):
            assert marker not in rendition.webp


def test_a_small_image_is_not_upscaled() -> None:
    rendered = render_upload(encoded(photo(500, 250), "PNG"))
    assert [(r.width, r.height) for r in rendered.renditions] == [(320, 160), (500, 250)]
    tiny = render_upload(encoded(photo(200, 100), "PNG"))
    assert [(r.width, r.height) for r in tiny.renditions] == [(200, 100)]


def test_rendition_sizes_keep_the_aspect_ratio() -> None:
    assert rendition_sizes(4032, 3024) == [(320, 240), (640, 480), (1280, 960)]
    assert rendition_sizes(1280, 5000) == [(320, 1250), (640, 2500), (1280, 5000)]


def test_same_bytes_give_the_same_hash_and_renditions() -> None:
    data = encoded(photo(900, 600), "JPEG")
    first, second = render_upload(data), render_upload(data)
    assert first == second
    assert render_upload(encoded(photo(900, 601), "JPEG")).content_hash != first.content_hash


def test_transparency_survives_and_palettes_are_expanded() -> None:
    logo = Image.new("RGBA", (800, 400), (0, 0, 0, 0))
    logo.paste((200, 30, 30, 255), (100, 100, 300, 300))
    rendered = render_upload(encoded(logo.convert("P"), "PNG", transparency=0))
    image = opened(rendered.renditions[-1].webp)
    assert image.mode == "RGBA"
    assert image.getpixel((5, 5))[3] == 0
    assert image.getpixel((200, 200))[3] == 255


def test_cmyk_and_sixteen_bit_sources_become_srgb() -> None:
    cmyk = render_upload(encoded(Image.new("CMYK", (700, 500), (0, 0, 255, 0)), "JPEG"))
    red, green, blue = opened(cmyk.renditions[-1].webp).convert("RGB").getpixel((10, 10))
    assert red > 200 and green > 200 and blue < 60  # Yellow ink is yellow.
    deep = Image.new("I;16", (600, 400), 40000)
    gray = render_upload(encoded(deep, "PNG"))
    assert abs(opened(gray.renditions[-1].webp).convert("L").getpixel((5, 5)) - 156) <= 3


def test_a_sixteen_bit_gray_logo_keeps_its_transparent_background() -> None:
    # A tRNS chunk names one 16-bit gray level transparent; browsers show it so, and so must we.
    logo = Image.new("I;16", (400, 300), 65535)
    logo.paste(0, (0, 0, 200, 300))
    rendered = render_upload(encoded(logo, "PNG", transparency=0))
    largest = opened(rendered.renditions[-1].webp).convert("RGBA")
    assert largest.getpixel((10, 150))[3] == 0
    assert min(largest.getpixel((350, 150))) > 245  # the rest: white and opaque


def test_an_icc_profile_is_applied_then_dropped() -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    rendered = render_upload(encoded(photo(700, 500), "JPEG", icc_profile=srgb))
    image = opened(rendered.renditions[-1].webp)
    assert "icc_profile" not in image.info
    assert image.convert("RGB").getpixel((10, 10))[0] > 200
    broken = render_upload(encoded(photo(700, 500), "JPEG", icc_profile=b"not a profile"))
    assert [r.width for r in broken.renditions] == [320, 640, 700]


@pytest.mark.parametrize("name", list(bad_files()))
def test_bad_files_are_rejected_with_a_reason(name: str) -> None:
    data, words = bad_files()[name]
    with pytest.raises(ImageRejected) as rejected:
        render_upload(data)
    assert words in rejected.value.reason


def test_pixel_and_shape_limits_are_checked_before_decoding() -> None:
    with pytest.raises(ImageRejected, match=r"8000x6000 \(48.0 megapixels\)"):
        render_upload(encoded(Image.new("L", (8000, 6000)), "PNG"))
    with pytest.raises(ImageRejected, match="at most 10 times"):
        render_upload(encoded(Image.new("RGB", (3000, 100)), "PNG"))
    with pytest.raises(ImageRejected, match="empty"):
        render_upload(b"")


def test_a_portrait_phone_photo_just_twice_the_largest_width_keeps_its_detail() -> None:
    """A JPEG stored 2560x1200 and shown turned a quarter (orientation 6) is decoded for its
    shown width, 1200 px, not at half scale."""
    rendered = render_upload(phone_jpeg(2560, 1200, orientation=6))
    assert [(r.width, r.height) for r in rendered.renditions] == [
        (320, 683), (640, 1365), (1200, 2560),
    ]  # fmt: skip


def test_an_rgb_png_with_a_transparent_colour_keeps_it_transparent() -> None:
    """An RGB PNG whose tRNS chunk names one colour transparent (a logo's background) stays
    transparent there."""
    logo = photo(800, 400)  # left half red, right half blue
    rendered = render_upload(encoded(logo, "PNG", transparency=(0, 0, 255)))
    largest = Image.open(io.BytesIO(rendered.renditions[-1].webp)).convert("RGBA")
    assert largest.getpixel((700, 200))[3] == 0
    assert largest.getpixel((100, 200))[3] == 255
