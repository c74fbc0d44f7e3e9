"""Phone numbers as people write them: checked by their digits, not their punctuation.

`(415) 555-0100`, `030/1234567`, `+44 20 7946 0000` and `+49 (0)30 1234567` are all numbers a
customer or a restaurant writes; what matters is 6 to 15 digits (E.164's maximum) with an
optional leading `+` and common separators. The number is kept as written, for staff to dial.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, StringConstraints
from pydantic_core import PydanticCustomError

# Literal separators: `\s` would also let line breaks and control characters through.
_SEPARATORS = re.compile(r"[ ().\-/]")
_SHAPE = re.compile(r"^\+?[0-9]+$")
MIN_DIGITS, MAX_DIGITS = 6, 15


def check_phone(value: str) -> str:
    digits = _SEPARATORS.sub("", value)
    if not _SHAPE.fullmatch(digits) or not MIN_DIGITS <= len(digits.lstrip("+")) <= MAX_DIGITS:
        raise PydanticCustomError(
            "phone",
            "must be a phone number: {low}-{high} digits, an optional leading +, and spaces, "
            "brackets, dots, dashes or slashes between them",
            {"low": MIN_DIGITS, "high": MAX_DIGITS},
        )
    return value


Phone = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=40), AfterValidator(check_phone)
]
