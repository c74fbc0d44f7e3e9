"""Storefront design tokens ("headless theming"): raw tokens a storefront renders, not a preset.

A tenant's theme holds colours, typography, shape and asset URLs. Validation guarantees what a
storefront must be able to trust without checking again: every colour pair it puts text on meets
WCAG AA, and every URL points at our assets host (or is relative to it), so a theme can neither
make the menu unreadable nor load fonts or images from anywhere else.
"""

from __future__ import annotations

import math
from typing import Annotated, Any
from urllib.parse import unquote, urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from shared.config import get_settings
from shared.field_rules import rule_failures
from shared.text_rules import check_single_line
from shared.text_shapes import shaped

# (foreground, background, minimum ratio). Text pairs need 4.5:1 (WCAG 1.4.3 AA); `secondary`
# is for non-text accents (badges, borders, the active tab), which need 3:1 (WCAG 1.4.11).
CONTRAST_PAIRS: tuple[tuple[str, str, float], ...] = (
    ("text", "background", 4.5),
    ("text", "surface", 4.5),
    ("on_primary", "primary", 4.5),
    ("secondary", "background", 3.0),
)
MAX_URL_LENGTH = 2048
_URL_FORBIDDEN = set("\"'()<>\\`{}|^")


def _normalise_hex(value: str) -> str:
    """`#ABC` → `#aabbcc`, so equal colours compare and hash equal."""
    digits = value[1:].lower()
    return "#" + ("".join(c * 2 for c in digits) if len(digits) == 3 else digits)


HexColor = Annotated[
    str,
    Field(
        pattern=shaped(
            r"^#([0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})$", "must be a hex colour such as #1f2937 or #fff"
        ),
        examples=["#1f2937"],
    ),
    AfterValidator(_normalise_hex),
]


def relative_luminance(color: str) -> float:
    """WCAG 2.x relative luminance of a `#rrggbb` colour."""
    channels = []
    for i in (1, 3, 5):
        c = int(color[i : i + 2], 16) / 255
        channels.append(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
    red, green, blue = channels
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_ratio(foreground: str, background: str) -> float:
    """WCAG contrast ratio between two `#rrggbb` colours (1.0 to 21.0)."""
    lighter, darker = sorted(
        (relative_luminance(foreground), relative_luminance(background)), reverse=True
    )
    return (lighter + 0.05) / (darker + 0.05)


def _check_asset_url(value: str) -> str:
    if len(value) > MAX_URL_LENGTH:
        raise PydanticCustomError(
            "url", "URLs are limited to {n} characters", {"n": MAX_URL_LENGTH}
        )
    if any(ch.isspace() or ch in _URL_FORBIDDEN or ord(ch) < 32 for ch in value):
        # These would let a token break out of CSS url(...) or an HTML attribute.
        raise PydanticCustomError(
            "url", "must not contain spaces, quotes, brackets or backslashes; percent-encode them"
        )
    if value.startswith("//"):
        # Browsers read "//host", and "///host" alike, as a URL on another host.
        raise PydanticCustomError("url", "must not start with '//': that names another host")
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        value = _under_assets_base(value)
    if ".." in unquote(parts.path).split("/"):
        raise PydanticCustomError("url", "must not contain '..' path segments")
    return value


def _under_assets_base(value: str) -> str:
    """value, an absolute URL, written as under ASSETS_BASE_URL (scheme and host compare in any
    letter case, and are saved as the base spells them); 422 when it is anywhere else."""
    base = get_settings().assets_base_url.rstrip("/") + "/"
    base_parts = urlsplit(base)
    base_origin = base[: len(base_parts.scheme) + len("://") + len(base_parts.netloc)]
    written = value[: len(base_origin)]
    rewritten = base_origin + value[len(base_origin) :]
    if written.lower() != base_origin.lower() or not rewritten.startswith(base):
        raise PydanticCustomError(
            "url", "must be under ASSETS_BASE_URL ({base}) or a path relative to it", {"base": base}
        )
    return rewritten


AssetUrl = Annotated[
    str, Field(min_length=1), AfterValidator(check_single_line), AfterValidator(_check_asset_url)
]


def resolve_asset_url(value: str) -> str:
    """An absolute URL for a token: relative paths are relative to ASSETS_BASE_URL."""
    if urlsplit(value).scheme:
        return value
    return get_settings().assets_base_url.rstrip("/") + "/" + value.lstrip("/")


class Colors(BaseModel):
    """Six colours; the pairs in CONTRAST_PAIRS are checked together."""

    model_config = ConfigDict(extra="forbid")

    primary: HexColor
    on_primary: HexColor
    secondary: HexColor
    background: HexColor
    surface: HexColor
    text: HexColor

    @model_validator(mode="after")
    def _check_contrast(self) -> Colors:
        failures = []
        for foreground, background, needed in CONTRAST_PAIRS:
            ratio = contrast_ratio(getattr(self, foreground), getattr(self, background))
            if ratio < needed:
                # Floor, so a 4.49 ratio never reads as "4.5:1, needs 4.5:1".
                shown = math.floor(ratio * 100) / 100
                message = (
                    f"colors.{foreground} on colors.{background} is {shown:g}:1, needs {needed:g}:1"
                )
                failures.append(((foreground,), message))
        if failures:
            raise rule_failures("Colors", failures, self)
        return self


FontFamily = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        pattern=shaped(
            r"^[A-Za-z0-9 ,'-]+$", "must be font names of letters, digits, spaces, commas, ' and -"
        ),
    ),
]


class Font(BaseModel):
    """A CSS font-family list and the self-hosted font files (woff2) that provide it."""

    model_config = ConfigDict(extra="forbid")

    family: FontFamily
    urls: list[AssetUrl] = Field(default=[], max_length=8)


class Typography(BaseModel):
    model_config = ConfigDict(extra="forbid")

    heading: Font
    body: Font


Radius = Annotated[int, Field(ge=0, le=64, strict=True)]


class Shape(BaseModel):
    """Corner radii in CSS pixels."""

    model_config = ConfigDict(extra="forbid")

    radius_small: Radius
    radius_medium: Radius
    radius_large: Radius


class Assets(BaseModel):
    model_config = ConfigDict(extra="forbid")

    logo: AssetUrl | None = None
    hero: AssetUrl | None = None


class ThemeTokens(BaseModel):
    """The whole theme: what `PUT /api/v1/admin/theme` accepts and the storefront receives."""

    model_config = ConfigDict(extra="forbid")

    colors: Colors
    typography: Typography
    shape: Shape
    assets: Assets = Assets()

    def as_data(self) -> dict[str, Any]:
        """The JSON stored in public.tenants.theme."""
        return self.model_dump(mode="json")


_SYSTEM_SANS = "Inter, system-ui, sans-serif"

PRESETS: dict[str, dict[str, Any]] = {
    "classic": {
        "colors": {
            "primary": "#b91c1c",
            "on_primary": "#ffffff",
            "secondary": "#b45309",
            "background": "#ffffff",
            "surface": "#f9fafb",
            "text": "#111827",
        },
        "typography": {
            "heading": {"family": "Georgia, serif"},
            "body": {"family": _SYSTEM_SANS},
        },
        "shape": {"radius_small": 4, "radius_medium": 8, "radius_large": 16},
    },
    "bistro": {
        "colors": {
            "primary": "#14532d",
            "on_primary": "#f0fdf4",
            "secondary": "#a16207",
            "background": "#fdf8f0",
            "surface": "#ffffff",
            "text": "#292524",
        },
        "typography": {
            "heading": {"family": "'Playfair Display', Georgia, serif"},
            "body": {"family": _SYSTEM_SANS},
        },
        "shape": {"radius_small": 2, "radius_medium": 4, "radius_large": 8},
    },
    "night": {
        "colors": {
            "primary": "#facc15",
            "on_primary": "#1c1917",
            "secondary": "#38bdf8",
            "background": "#0c0a09",
            "surface": "#1c1917",
            "text": "#f5f5f4",
        },
        "typography": {
            "heading": {"family": _SYSTEM_SANS},
            "body": {"family": _SYSTEM_SANS},
        },
        "shape": {"radius_small": 6, "radius_medium": 12, "radius_large": 24},
    },
}
DEFAULT_PRESET = "classic"


def preset_tokens(name: str) -> dict[str, Any]:
    """A preset's tokens as stored JSON: a starting value to copy, never referenced by name."""
    return ThemeTokens.model_validate(PRESETS[name]).as_data()


def preset_look(name: str) -> dict[str, Any]:
    """A preset's tokens without assets: what an admin copies (a saved theme that leaves assets
    out keeps the restaurant's logo and hero)."""
    tokens = preset_tokens(name)
    del tokens["assets"]
    return tokens


def storefront_theme(stored: dict[str, Any]) -> dict[str, Any]:
    """The tokens a storefront renders: the tenant's own, else the default preset."""
    return stored or preset_tokens(DEFAULT_PRESET)


def resolved_asset_urls(tokens: dict[str, Any]) -> dict[str, Any]:
    """tokens with every asset and font URL made absolute, so clients need no base URL."""
    typography = {
        role: {**font, "urls": [resolve_asset_url(u) for u in font.get("urls", [])]}
        for role, font in tokens.get("typography", {}).items()
    }
    assets = {
        key: resolve_asset_url(url) if url else None
        for key, url in tokens.get("assets", {}).items()
    }
    return {**tokens, "typography": typography, "assets": assets}
