"""Partial updates (PATCH bodies): only the fields sent change, null clears only what may be
empty, and a body that sends no field to change is a 422 rather than a silent success."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from shared.versioning import ExpectedVersion


def _patch_schema(schema: dict[str, Any], cls: type[Patch]) -> None:
    """The API description says what the validators enforce: null only for NULLABLE fields,
    and at least one field."""
    for name, field in schema.get("properties", {}).items():
        branches = field.get("anyOf")
        if name in cls.NULLABLE or not branches:
            continue
        kept = [branch for branch in branches if branch != {"type": "null"}]
        field.pop("anyOf")
        field.pop("default", None)  # the null default means "not sent", not a value to send
        if len(kept) == 1:
            field.update(kept[0])
        else:
            field["anyOf"] = kept
    # At least one field to change: expected_version alone changes nothing (a 422).
    schema["anyOf"] = [
        {"required": [name]} for name in schema.get("properties", {}) if name != "expected_version"
    ]


class Patch(BaseModel):
    """Partial update: only the fields sent change; null clears only a field in NULLABLE."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_patch_schema)
    NULLABLE: ClassVar[frozenset[str]] = frozenset({"expected_version"})
    expected_version: ExpectedVersion | None = None

    @field_validator("*")
    @classmethod
    def _null_only_where_allowed(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.NULLABLE:
            raise PydanticCustomError("not_nullable", "cannot be null; leave it out to keep it")
        return value

    @model_validator(mode="after")
    def _changes_something(self) -> Patch:
        if not self.changes():
            raise PydanticCustomError("empty_patch", "send at least one field to change")
        return self

    def changes(self) -> dict[str, Any]:
        """The fields the client sent, except expected_version."""
        return {
            name: getattr(self, name)
            for name in self.model_fields_set
            if name != "expected_version"
        }
