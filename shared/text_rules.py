"""Free text that Postgres can store and a storefront can show: no control characters.

Postgres refuses NUL in text and jsonb, and a lone surrogate (`"\ud800"` is valid JSON) cannot
be encoded as UTF-8, so letting either through would turn a client's mistake into a 500; other
control characters only ever arrive by accident or from a fuzzer.
"""

from __future__ import annotations

from pydantic_core import PydanticCustomError

_LINE_BREAKS = frozenset("\n\r\t")


def _control_characters(value: str, allowed: frozenset[str]) -> bool:
    return any((ord(ch) < 32 or ord(ch) == 127) and ch not in allowed for ch in value)


def _check_unicode(value: str) -> None:
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        raise PydanticCustomError("unicode", "must be valid Unicode text (a lone surrogate is not)")


def check_single_line(value: str) -> str:
    _check_unicode(value)
    if _control_characters(value, frozenset()):
        raise PydanticCustomError(
            "control_characters", "must not contain control characters such as NUL or line breaks"
        )
    return value


def check_multi_line(value: str) -> str:
    _check_unicode(value)
    if _control_characters(value, _LINE_BREAKS):
        raise PydanticCustomError(
            "control_characters", "must not contain control characters such as NUL"
        )
    return value
