"""From upload bytes to WebP renditions and a blurred placeholder: pure, deterministic, no I/O."""

from __future__ import annotations

import base64
import hashlib
import io
from dataclasses import dataclass

from PIL import Image, ImageFilter

from shared.images.color import to_srgb
from shared.images.decoding import load_upright, open_upload, without_palette
from shared.images.limits import DAMAGED, RENDITION_WIDTHS, ImageRejected

WEBP_QUALITY = 80
# method 4 is libwebp's default: method 6 is ~2x slower for a few percent smaller files.
WEBP_METHOD = 4
PLACEHOLDER_WIDTH = 16
# Part of every content hash: a change to how renditions are made must change their names,
# because rendition URLs are cached as immutable for a year.
RECIPE = f"webp-q{WEBP_QUALITY}-m{WEBP_METHOD}-{'-'.join(map(str, RENDITION_WIDTHS))}-v1"


@dataclass(frozen=True)
class Rendition:
    width: int
    height: int
    webp: bytes


@dataclass(frozen=True)
class RenderedImage:
    """What an upload becomes: renditions narrowest first, and a data-URI placeholder."""

    content_hash: str
    renditions: list[Rendition]
    placeholder: str


def content_hash(data: bytes) -> str:
    """Names the renditions of data: equal bytes (and recipe) give equal names."""
    return hashlib.sha256(RECIPE.encode() + b"\0" + data).hexdigest()[:32]


def rendition_sizes(width: int, height: int) -> list[tuple[int, int]]:
    """The rendition sizes for an upright image: each width of RENDITION_WIDTHS, never upscaled.

    A source narrower than a width contributes one rendition at its own width instead.
    """
    widths = sorted({min(target, width) for target in RENDITION_WIDTHS})
    return [(w, max(1, round(height * w / width))) for w in widths]


def _shrink(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """image at size: an exact halving averages 2x2 blocks (10x cheaper), else Lanczos."""
    if image.size == (size[0] * 2, size[1] * 2):
        return image.reduce(2)
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def resize_renditions(image: Image.Image, icc_profile: bytes | None) -> list[Image.Image]:
    """sRGB images at rendition_sizes, narrowest first.

    Largest first from the decoded image, then each from the previous one: resampling a
    1280-px image to 640 is cheaper than from the full source and looks the same. The colour
    conversion runs once, on the largest rendition rather than on every source pixel.
    """
    sizes = rendition_sizes(*image.size)
    current = without_palette(image)
    resized: list[Image.Image] = []
    for size in reversed(sizes):
        if current.size != size:
            current = _shrink(current, size)
        if not resized:
            current = to_srgb(current, icc_profile)
        resized.append(current)
    return resized[::-1]


def encode_webp(image: Image.Image, quality: int = WEBP_QUALITY) -> bytes:
    """image as WebP with no EXIF, XMP or ICC chunk, whatever image.info still holds."""
    out = io.BytesIO()
    image.save(
        out, "WEBP", quality=quality, method=WEBP_METHOD, exif=b"", xmp=b"", icc_profile=None
    )
    return out.getvalue()


def placeholder_data_uri(image: Image.Image) -> str:
    """A tiny blurred WebP of image as a data URI, shown while the real rendition loads."""
    width = min(PLACEHOLDER_WIDTH, image.width)
    height = max(1, round(image.height * width / image.width))
    tiny = image.resize((width, height), Image.Resampling.BOX).filter(ImageFilter.GaussianBlur(1))
    return "data:image/webp;base64," + base64.b64encode(encode_webp(tiny, quality=40)).decode()


def render_upload(data: bytes) -> RenderedImage:
    """Check, decode and render an upload; ImageRejected with the reason for any bad file."""
    try:
        image = open_upload(data)
        icc_profile = image.info.get("icc_profile")
        upright = load_upright(image, max(RENDITION_WIDTHS))
        resized = resize_renditions(upright, icc_profile)
        renditions = [Rendition(im.width, im.height, encode_webp(im)) for im in resized]
        placeholder = placeholder_data_uri(resized[0])
    except ImageRejected:
        raise
    except Exception as error:  # Decoders raise many types on hostile data; all mean "bad file".
        raise ImageRejected(DAMAGED) from error
    return RenderedImage(content_hash(data), renditions, placeholder)
