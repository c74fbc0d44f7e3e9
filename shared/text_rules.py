"""Free text that Postgres can store and a storefront can show: no control characters.

Postgres refuses NUL in text and jsonb, and a lone surrogate (`"\ud800"` is valid JSON) cannot
be encoded as UTF-8, so letting either through would turn a client's mistake into a 500; other
control characters only ever arrive by accident or from a fuzzer.
"""

from __future__ import annotations

import functools
import unicodedata
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, StringConstraints
from pydantic_core import PydanticCustomError

_LINE_BREAKS = frozenset("\n\r\t")
# Unicode's line and paragraph separators break a single line as surely as "\n" does.
_SEPARATORS = frozenset({"Zl", "Zp"})


def _control_characters(value: str, allowed: frozenset[str], categories: frozenset[str]) -> bool:
    """Any C0 or C1 control (category Cc, DEL included) not allowed, or a char in categories."""
    return any(
        ch not in allowed
        and (unicodedata.category(ch) == "Cc" or unicodedata.category(ch) in categories)
        for ch in value
    )


# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt) beyond category Cf: letters
# and marks that render as nothing, such as the Hangul fillers and the variation selectors.
_IGNORABLE_RANGES = (
    (0x034F, 0x034F), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F), (0x3164, 0x3164),
    (0xFE00, 0xFE0F), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)  # fmt: skip


@functools.lru_cache(maxsize=8192)  # a menu's text draws on few distinct characters
def invisible_character(ch: str) -> bool:
    """A format character (zero-width space, BOM, joiners), a space, or another default
    ignorable one: what shows as nothing."""
    if unicodedata.category(ch) == "Cf" or ch.isspace():
        return True
    code = ord(ch)
    return any(low <= code <= high for low, high in _IGNORABLE_RANGES)


def look_alike_key(name: str) -> str:
    """What two names are compared by when a reader must tell them apart: NFKC (a fullwidth
    D, U+FF24, is a "D"; a no-break space a space), no characters that show as nothing, single
    spaces, case aside. "Dip", "DIP", "Di\u200bp" and "\uff24ip" are one name to a customer."""
    if name.isascii():  # NFKC leaves ASCII alone, and its only invisible characters are spaces
        return " ".join(name.split()).casefold()
    shown = "".join(
        ch
        for ch in unicodedata.normalize("NFKC", name)
        if ch.isspace() or not invisible_character(ch)
    )
    return " ".join(shown.split()).casefold()


def _invisible(value: str) -> bool:
    return all(invisible_character(ch) for ch in value)


def composed(value: object) -> object:
    """Text in NFC (a BeforeValidator, so lengths count what readers see): "Crème" typed with a
    combining accent (macOS, some Vietnamese keyboards) is the same name, one character shorter."""
    return unicodedata.normalize("NFC", value) if isinstance(value, str) else value


def _check_unicode(value: str) -> None:
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        raise PydanticCustomError("unicode", "must be valid Unicode text (a lone surrogate is not)")


# The embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) reorder everything after
# them until a terminator that a client can leave out: a customer name ending in RIGHT-TO-LEFT
# OVERRIDE shows the ticket number beside it on a display as "2400#". Keyboards do not type them
# (Arabic and Hebrew text needs none; the marks U+200E, U+200F and U+061C, which reorder nothing
# around them, stay allowed), so they only arrive pasted or forged.
_DIRECTION_CONTROLS = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))


def _check_direction_controls(value: str) -> None:
    if not _DIRECTION_CONTROLS.isdisjoint(value):
        raise PydanticCustomError(
            "direction_controls",
            "must not contain bidirectional embedding, override or isolate controls"
            " (U+202A to U+202E, U+2066 to U+2069): they reorder the text shown after them",
        )


def check_single_line(value: str) -> str:
    _check_unicode(value)
    _check_direction_controls(value)
    if _control_characters(value, frozenset(), _SEPARATORS):
        raise PydanticCustomError(
            "control_characters", "must not contain control characters such as NUL or line breaks"
        )
    if value and _invisible(value):
        raise PydanticCustomError("invisible", "must contain visible characters")
    return value


def check_multi_line(value: str) -> str:
    _check_unicode(value)
    _check_direction_controls(value)
    if _control_characters(value, _LINE_BREAKS, frozenset()):
        raise PydanticCustomError(
            "control_characters", "must not contain control characters such as NUL"
        )
    return value


def check_visible(value: str) -> str:
    """Something a reader can see, if anything at all (empty stays empty for "required" rules)."""
    if value and _invisible(value):
        raise PydanticCustomError("invisible", "must contain visible characters")
    return value


def one_line(max_length: int) -> Any:
    """A pydantic type for a name-like text: one visible line of 1 to max_length characters
    (after trimming spaces and composing accents), as a storefront or a ticket shows it."""
    return Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length),
        AfterValidator(check_single_line),
        BeforeValidator(composed),
    ]
