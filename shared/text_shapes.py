"""Text shapes checked by a regular expression, each with what a refusal says instead of the
expression: `must be a hex colour such as #1f2937` helps an admin app's user, where pydantic's
`String should match pattern '^#([0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})$'` helps nobody.

A model keeps the expression in `Field(pattern=...)` (OpenAPI shows it); the edge
(`functions/request_bodies.py`) swaps pydantic's message for the one registered here.
"""

from __future__ import annotations

_SAYS: dict[str, str] = {}


def shaped(regex: str, says: str) -> str:
    """regex, remembered with what a value that does not match it is told (`must be ...`)."""
    _SAYS[regex] = says
    return regex


def refusal(regex: str) -> str | None:
    """What a value not matching regex is told; None for an expression nobody described."""
    return _SAYS.get(regex)


EMAIL = shaped(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", "must be an e-mail address such as ada@example.com")
STATION = shaped(
    r"^[a-z0-9][a-z0-9_-]{0,31}$",
    "must be 1 to 32 lower-case letters, digits, '-' or '_', starting with a letter or digit",
)
