"""The shape of the theme presets an editor starts from, for the API description.

The answer is a plain dict (functions/admin_settings.py); this closed model only describes it,
and tests/test_openapi_admin_answers.py checks the real answer against the served description.
"""

from __future__ import annotations

from typing import Literal

from shared.answer_shape import AnswerShape
from shared.theming import PRESETS, ThemeTokens

PresetName = Literal[tuple(PRESETS)]


class ThemePresetOut(AnswerShape):
    """A look to copy into `PUT /api/v1/admin/theme`; without `assets`, so the saved copy keeps
    the restaurant's logo and hero."""

    name: PresetName
    tokens: ThemeTokens


class ThemePresetsOut(AnswerShape):
    """`GET /api/v1/admin/theme/presets`: `default` is the look of a restaurant never themed."""

    default: PresetName
    presets: list[ThemePresetOut]
