"""What an upload may be: size, format by magic bytes, pixel count and shape.

Every check runs on the bytes or the header alone, before any pixel is decoded, and fails with a
reason written for the restaurant's admins (it is shown next to the item).
"""

from __future__ import annotations

import math

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
# Wider than 10:1 is a banner or a mistake; it would also make renditions taller than WebP's
# 16383 px limit before the pixel limit stops it.
MAX_ASPECT = 10
RENDITION_WIDTHS = (320, 640, 1280)
# Pillow format name → the Content-Type the browser sends.
CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}

DAMAGED = "The file is damaged or truncated; export the image again and upload the new file"


class ImageRejected(Exception):
    """A file we will not turn into renditions; `reason` is what the admin reads."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _rounded_up(value: float) -> float:
    """To one decimal, upwards: a file just over a limit must not read as the limit itself."""
    return math.ceil(round(value * 10, 6)) / 10


def _megabytes(size: int) -> str:
    return f"{_rounded_up(size / (1024 * 1024)):.1f} MB"


def check_size(size: int) -> None:
    """Reject files over MAX_UPLOAD_BYTES and empty ones."""
    if size == 0:
        raise ImageRejected("The file is empty")
    if size > MAX_UPLOAD_BYTES:
        raise ImageRejected(
            f"The file is {_megabytes(size)}; images are limited to {_megabytes(MAX_UPLOAD_BYTES)}"
        )


def sniff_format(data: bytes) -> str:
    """The Pillow format name from the file's magic bytes; whatever the name or type claims."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    raise ImageRejected("The file is not a JPEG, PNG or WebP image")


def check_dimensions(width: int, height: int) -> None:
    """Reject images over MAX_PIXELS or with an aspect ratio beyond MAX_ASPECT."""
    if width < 1 or height < 1:
        raise ImageRejected(DAMAGED)
    if width * height > MAX_PIXELS:
        megapixels = _rounded_up(width * height / 1e6)
        raise ImageRejected(
            f"The image is {width}x{height} ({megapixels:.1f} megapixels); images are"
            f" limited to {MAX_PIXELS / 1e6:.0f} megapixels"
        )
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise ImageRejected(
            f"The image is {width}x{height}; one side may be at most {MAX_ASPECT} times the other"
        )
