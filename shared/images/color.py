"""Colour: every rendition is sRGB without an embedded profile, which is what browsers assume."""

from __future__ import annotations

import functools
import io
import logging

from PIL import Image, ImageCms

log = logging.getLogger("stelly.images")


@functools.cache
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def to_srgb(image: Image.Image, icc_profile: bytes | None) -> Image.Image:
    """image as RGB or RGBA in sRGB: converted through its ICC profile when it has one.

    A profile that is broken or does not fit the pixels is ignored (the colours are then taken
    as sRGB): a slightly off colour is better than rejecting a manager's photo.
    """
    alpha = "A" in image.getbands()
    mode = "RGBA" if alpha else "RGB"
    if icc_profile:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
            converted = ImageCms.profileToProfile(image, source, _srgb(), outputMode=mode)
        except (ImageCms.PyCMSError, OSError, ValueError) as error:
            log.info("ignoring an unusable ICC profile: %s", error)
        else:
            if converted is not None:
                return converted
    return image if image.mode == mode else image.convert(mode)
