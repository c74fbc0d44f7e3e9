"""Cross-field rules that still report field paths.

A model validator that raises ValueError is reported at the model's own path; raising a
ValidationError built here instead lets pydantic place each failure at its field, nested under
wherever the model sits (`categories[0].items[3].modifier_groups[0].max`).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError


def rule_failures(
    title: str, failures: list[tuple[tuple[str | int, ...], str]], value: Any
) -> ValidationError:
    """A ValidationError with one entry per (location, message) of failures."""
    details = [
        InitErrorDetails(
            type=PydanticCustomError("rule", "{message}", {"message": message}),
            loc=loc,
            input=value,
        )
        for loc, message in failures
    ]
    return ValidationError.from_exception_data(title, details)
