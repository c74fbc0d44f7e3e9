"""pydantic's refusals reworded for the person who reads them.

An admin app shows `errors[].message` to a restaurant manager and a storefront to a customer:
"Input should be a valid dictionary or instance of FulfilmentIn" or "Tuple should have at most 2
items after validation" is Python talking. Each message here says, in JSON's words, what the
value must be, and where a unit is not obvious (money in minor units, tax in basis points), the
unit with an example.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from shared.calendar_dates import DATE_WORDS
from shared.text_shapes import refusal

_MINOR_UNITS = "whole minor units of the currency: {}"
# Fields whose unit a person would get wrong, by name: each name means one thing across the API.
_UNITS = {
    # Examples in currencies of 2, 0 and 3 digits: "x 100" alone would make a Kuwaiti dish
    # ten times too cheap.
    "price": _MINOR_UNITS.format("9.50 EUR is 950, 950 JPY is 950, 4.750 KWD is 4750"),
    "price_delta": _MINOR_UNITS.format("1.50 EUR is 150, 150 JPY is 150, 1.500 KWD is 1500"),
    "tip": _MINOR_UNITS.format("1.50 EUR is 150, 150 JPY is 150, 1.500 KWD is 1500"),
    "rate_bp": "basis points from 0 to 10000, to a hundredth: 20 % is 2000, 8.875 % is 887.5",
    "size": "bytes (10 MiB is 10485760)",
}
# How pydantic's own messages begin; a custom error of ours says "must ..." and is kept.
_PYDANTIC_WORDING = (
    "Input should",
    "String should",
    "List should",
    "Tuple should",
    "Dictionary should",
    "Field required",
    "Extra inputs",
    "Value error",
    "Object has",
    "Datetimes provided",  # date_from_datetime_inexact
    "Unable to parse",  # int_parsing_size: more digits than pydantic reads
)
_WINDOW = 'must be a [start, end] pair such as ["09:00", "17:00"]'


def _unit(field: str, message: str) -> str:
    unit = _UNITS.get(field)
    return f"{message}, in {unit}" if unit else message


def _number(limit: float) -> str:
    """A limit as people write it: a float field's 10000.0 is 10000."""
    return str(int(limit)) if isinstance(limit, float) and limit.is_integer() else str(limit)


def _items(count: int) -> str:
    return f"{count} item" if count == 1 else f"{count} items"


def _in_window(loc: tuple[int | str, ...]) -> bool:
    """A day's window in `hours` or an item's `windows`: the API's only pairs."""
    return any(part in ("hours", "windows") for part in loc if isinstance(part, str))


_BY_TYPE: dict[str, Callable[[ErrorDetails, str], str]] = {
    "missing": lambda e, f: "is required",
    "int_type": lambda e, f: _unit(f, "must be a whole number"),
    "int_parsing": lambda e, f: _unit(f, "must be a whole number"),
    "int_parsing_size": lambda e, f: _unit(f, "must be a whole number of at most 4300 digits"),
    "int_from_float": lambda e, f: _unit(f, "must be a whole number"),
    "float_type": lambda e, f: _unit(f, "must be a number"),
    "float_parsing": lambda e, f: _unit(f, "must be a number"),
    "finite_number": lambda e, f: _unit(f, "must be a finite number"),
    "less_than_equal": lambda e, f: _unit(f, f"must be at most {_number(e['ctx']['le'])}"),
    "greater_than_equal": lambda e, f: _unit(f, f"must be at least {_number(e['ctx']['ge'])}"),
    "less_than": lambda e, f: _unit(f, f"must be less than {e['ctx']['lt']}"),
    "greater_than": lambda e, f: _unit(f, f"must be more than {e['ctx']['gt']}"),
    "bool_type": lambda e, f: "must be true or false",
    "bool_parsing": lambda e, f: "must be true or false",
    "string_type": lambda e, f: "must be text (a JSON string)",
    "string_too_short": lambda e, f: (
        "must not be empty"
        if e["ctx"]["min_length"] == 1
        else f"must be at least {e['ctx']['min_length']} characters"
    ),
    "string_too_long": lambda e, f: f"must be at most {e['ctx']['max_length']} characters",
    "model_type": lambda e, f: "must be an object",
    "model_attributes_type": lambda e, f: "must be an object",
    "dict_type": lambda e, f: "must be an object",
    "list_type": lambda e, f: "must be a list",
    "uuid_type": lambda e, f: "must be an id (a UUID)",
    "uuid_parsing": lambda e, f: "must be an id (a UUID)",
    "date_type": lambda e, f: DATE_WORDS,
    "date_parsing": lambda e, f: DATE_WORDS,
    "date_from_datetime_parsing": lambda e, f: DATE_WORDS,
    "date_from_datetime_inexact": lambda e, f: DATE_WORDS,
    "string_pattern_mismatch": lambda e, f: refusal(e["ctx"]["pattern"]) or e["msg"],
    "value_error": lambda e, f: e["msg"].removeprefix("Value error, "),
}


def _sized(error: ErrorDetails) -> str | None:
    """A list (or a window pair) with too few or too many items."""
    loc, ctx = error["loc"], error.get("ctx", {})
    pair = error["type"] == "tuple_type" or "Tuple" in error["msg"]
    if _in_window(loc) and pair:
        return _WINDOW
    if error["type"] == "too_short":
        return f"must have at least {_items(ctx['min_length'])}"
    if error["type"] == "too_long":
        return f"must have at most {_items(ctx['max_length'])}"
    if error["type"] == "tuple_type":
        return "must be a list"
    return None


def friendly_message(error: ErrorDetails, model: type[BaseModel] | None) -> str:
    """What the person who sent the value is told about it: our own validators' words as they
    are, pydantic's reworded (or as they are, when nothing here knows that kind)."""
    if not error["msg"].startswith(_PYDANTIC_WORDING):
        return error["msg"]
    field = next((part for part in reversed(error["loc"]) if isinstance(part, str)), "")
    try:
        if error["type"] == "extra_forbidden":
            return _unknown_field(error["loc"], model)
        sized = _sized(error)
        if sized is not None:
            return sized
        reword = _BY_TYPE.get(error["type"])
        return reword(error, field) if reword else error["msg"]
    except (KeyError, TypeError):
        # A context without the value a wording needs: pydantic's words beat a 500.
        return error["msg"]


def _unknown_field(loc: tuple[int | str, ...], model: type[BaseModel] | None) -> str:
    """`is not a field here; send ...`, naming the fields the object takes when known, or
    where the value goes instead (`misplaced_fields` on the model)."""
    owner = _model_at(model, loc[:-1]) if model is not None else None
    if owner is None:
        return "is not a field here"
    misplaced: dict[str, str] = getattr(owner, "misplaced_fields", {})
    if str(loc[-1]) in misplaced:
        return misplaced[str(loc[-1])]
    names = [info.alias or name for name, info in owner.model_fields.items()]
    return f"is not a field here; send {', '.join(names)}"


def _model_at(model: type[BaseModel], path: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model of the object at path inside model, following fields, lists and optionals."""
    current: Any = model
    for part in path:
        if isinstance(part, int):
            current = _element(current)
        elif _is_model(current) and part in current.model_fields:
            current = current.model_fields[part].annotation
        else:
            return None
        current = _unwrapped(current)
    return current if _is_model(current) else None


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _unwrapped(annotation: Any) -> Any:
    """X from Annotated[X, ...] and from X | None."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def _element(annotation: Any) -> Any:
    """X from list[X] (after unwrapping)."""
    args = typing.get_args(_unwrapped(annotation))
    return args[0] if args else None
