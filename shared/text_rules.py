"""Free text that Postgres can store and a storefront can show: no control characters.

Postgres refuses NUL in text and jsonb, and a lone surrogate (`"\ud800"` is valid JSON) cannot
be encoded as UTF-8, so letting either through would turn a client's mistake into a 500; other
control characters only ever arrive by accident or from a fuzzer.
"""

from __future__ import annotations

import unicodedata

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


def _invisible(value: str) -> bool:
    """Only format characters (zero-width space, BOM, joiners) and spaces: shows as nothing."""
    return all(unicodedata.category(ch) == "Cf" or ch.isspace() for ch in value)


def _check_unicode(value: str) -> None:
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        raise PydanticCustomError("unicode", "must be valid Unicode text (a lone surrogate is not)")


def check_single_line(value: str) -> str:
    _check_unicode(value)
    if _control_characters(value, frozenset(), _SEPARATORS):
        raise PydanticCustomError(
            "control_characters", "must not contain control characters such as NUL or line breaks"
        )
    if value and _invisible(value):
        raise PydanticCustomError("invisible", "must contain visible characters")
    return value


def check_multi_line(value: str) -> str:
    _check_unicode(value)
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
