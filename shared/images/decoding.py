"""Opening an upload safely and decoding it upright, at the smallest scale the renditions allow."""

from __future__ import annotations

import io
import math

from PIL import Image

from shared.images.limits import (
    DAMAGED,
    MAX_PIXELS,
    ImageRejected,
    check_dimensions,
    check_size,
    sniff_format,
)

EXIF_ORIENTATION = 0x0112
# Orientations 5-8 swap width and height on display.
_TRANSPOSED = {5, 6, 7, 8}
# How each EXIF orientation is undone (as ImageOps.exif_transpose does it).
_UNDO_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SIXTEEN_BIT_GRAY = {"I", "I;16", "I;16B", "I;16L", "I;16N"}


def open_upload(data: bytes) -> Image.Image:
    """Open data as the format its magic bytes name, after size, pixel and shape checks.

    Only the header has been read when this returns. Pillow's decompression-bomb guard stays on
    (MAX_IMAGE_PIXELS at its default) as a second line behind our lower pixel limit.
    """
    check_size(len(data))
    kind = sniff_format(data)
    try:
        image = Image.open(io.BytesIO(data), formats=[kind])
    except Image.DecompressionBombError:
        raise ImageRejected(
            f"The image has far too many pixels; images are limited to {MAX_PIXELS // 10**6}"
            " megapixels"
        ) from None
    except Exception as error:  # Parsers raise many types for hostile headers; all mean "bad file".
        raise ImageRejected(DAMAGED) from error
    check_dimensions(*image.size)
    return image


def orientation(image: Image.Image) -> int:
    """The EXIF (or XMP) orientation; 1 when the metadata cannot be read.

    Broken EXIF is common in PNG and WebP (a tool that wrote Python's repr of the bytes, or
    malformed IFDs) and browsers ignore it, so we ignore it too and keep the photo, as
    color.to_srgb ignores an unusable ICC profile.
    """
    try:
        return int(image.getexif().get(EXIF_ORIENTATION, 1))
    except Exception:
        return 1


def display_size(image: Image.Image) -> tuple[int, int]:
    """(width, height) once the EXIF orientation is applied."""
    width, height = image.size
    return (height, width) if orientation(image) in _TRANSPOSED else (width, height)


def load_upright(image: Image.Image, max_width: int) -> Image.Image:
    """Decode image and apply its EXIF orientation; JPEGs decode at a reduced scale.

    libjpeg can scale by 1/2, 1/4 or 1/8 while decoding (`draft`), which is far cheaper than
    decoding every pixel and resizing; it picks the smallest scale still at least as large as
    what the largest rendition needs, so quality is unchanged.
    """
    if image.format == "JPEG":
        shown_width, _ = display_size(image)
        scale = min(1.0, max_width / shown_width)
        width, height = image.size
        image.draft(None, (math.ceil(width * scale), math.ceil(height * scale)))
    image.load()
    # The pixels only: ImageOps.exif_transpose also re-encodes the rest of the EXIF, which fails
    # on one mistyped tag (Pillow #6799, #8965), and renditions never carry EXIF anyway.
    undo = _UNDO_ORIENTATION.get(orientation(image))
    return image.transpose(undo) if undo is not None else image


def without_palette(image: Image.Image) -> Image.Image:
    """image in a mode that resizes smoothly: L, LA, RGB, RGBA or CMYK (kept for its profile)."""
    if image.mode in _SIXTEEN_BIT_GRAY:
        # convert("L") would clip 16-bit samples at 255 instead of scaling them.
        samples = image.convert("I")
        gray = samples.point(lambda value: value * (1 / 257)).convert("L")
        transparent = image.info.get("transparency")
        if not isinstance(transparent, int) or not 0 <= transparent < 65536:
            return gray
        # tRNS names one 16-bit gray level as transparent (a logo's background).
        # A table over all 65,536 levels (a lambda on an "I" image may only scale and shift).
        table = [255] * 65536
        table[transparent] = 0
        gray.putalpha(samples.point(table, "L"))
        return gray
    if image.mode in ("L", "LA", "RGB", "RGBA", "CMYK") and "transparency" not in image.info:
        return image
    has_alpha = "A" in image.getbands() or "transparency" in image.info
    return image.convert("RGBA" if has_alpha else "RGB")
