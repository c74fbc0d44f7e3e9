"""The base of every answer shape (`*_shapes.py`): models that only describe the plain-dict
answers for the API description, closed (`additionalProperties: false`) so that a field added
to an answer without its shape fails tests/test_openapi_answers.py and its admin twin."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class AnswerShape(BaseModel):
    model_config = ConfigDict(extra="forbid")
