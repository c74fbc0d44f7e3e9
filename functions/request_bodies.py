"""Reading what a request sends: its JSON body (media type, size, syntax, what Postgres can
store) and its query, validated into pydantic models with field-path 422s."""

from __future__ import annotations

import json
from typing import Any, TypeVar

import azure.functions as func
from pydantic import BaseModel, ValidationError

from functions.validation_messages import friendly_message
from shared import errors
from shared.errors import FieldError, ProblemError

MAX_BODY_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 32
# A refusal stays small whatever was sent: anyone may POST an order, and one error per unknown
# key, each quoting the key, would answer a 1 MiB body with several megabytes.
MAX_FIELD_ERRORS = 50
MAX_PATH_KEY = 64
M = TypeVar("M", bound=BaseModel)


def _shown_key(key: object) -> str:
    """A key as a path quotes it: cut at MAX_PATH_KEY characters (the key is the sender's)."""
    text = str(key)
    return text if len(text) <= MAX_PATH_KEY else text[:MAX_PATH_KEY] + "…"


def field_path(loc: tuple[int | str, ...]) -> str:
    """pydantic's ('lines', 2, 'quantity') → 'lines[2].quantity'."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
            continue
        path += f".{_shown_key(part)}" if path else _shown_key(part)
    return path or "body"


def validation_problem(
    error: ValidationError, prefix: str = "", model: type[BaseModel] | None = None
) -> ProblemError:
    """A 422 with one field error per failure (the first MAX_FIELD_ERRORS, and how many more in
    `errors_omitted`), worded for the person who reads it."""
    found = []
    failures = error.errors(include_url=False)
    for item in failures[:MAX_FIELD_ERRORS]:
        loc = tuple(p for p in item["loc"] if p not in ("function-after", "function-wrap"))
        message = friendly_message({**item, "loc": loc}, model)
        path = field_path(loc)
        found.append(FieldError(f"{prefix}{path}" if prefix else path, message))
    problem = errors.validation_failed(found)
    if len(failures) > MAX_FIELD_ERRORS:
        problem.extra["errors_omitted"] = len(failures) - MAX_FIELD_ERRORS
    return problem


def parse_model(model: type[M], data: Any, *, prefix: str = "") -> M:
    """Validate data into model; field-path 422 on failure."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise validation_problem(error, prefix, model) from None


def parse_json_body(req: func.HttpRequest) -> Any:
    """The request's JSON document: 415 for another media type, 413 when large, 400 when broken."""
    media_type = (req.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise errors.unsupported_media_type(media_type)
    raw = req.get_body() or b""
    if len(raw) > MAX_BODY_BYTES:
        raise errors.payload_too_large(MAX_BODY_BYTES)
    if not raw.strip():
        raise errors.bad_request("The request needs a JSON body")
    try:
        document = json.loads(raw)
    except RecursionError:
        raise errors.bad_request("Malformed JSON: nested too deeply") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise errors.bad_request(f"Malformed JSON: {error}") from None
    except ValueError:  # int() refuses numbers of more than sys.get_int_max_str_digits() digits
        raise errors.bad_request("Malformed JSON: a number has too many digits") from None
    unstorable = unstorable_text(document)
    if unstorable:
        raise errors.validation_failed([unstorable])
    return document


def unstorable_text(value: Any, path: str = "", depth: int = 0) -> FieldError | None:
    """The first string Postgres cannot store (NUL, lone surrogates), as a field error.

    JSON allows both (`\\u0000`, `\\ud800`); caught here once so no endpoint meets them as a 500.
    So is nesting deeper than MAX_JSON_DEPTH, which no request of ours needs and which would
    take this walk (and pydantic after it) towards Python's recursion limit.
    """
    if depth > MAX_JSON_DEPTH:
        return FieldError(path or "body", f"nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, str):
        if "\x00" in value:
            return FieldError(path or "body", "must not contain NUL (\\u0000) characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return FieldError(path or "body", "must be valid Unicode (no lone surrogates)")
    elif isinstance(value, dict):
        for key, item in value.items():
            found = unstorable_text(key, path or "body", depth) or unstorable_text(
                item, f"{path}.{_shown_key(key)}" if path else _shown_key(key), depth + 1
            )
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = unstorable_text(item, f"{path}[{index}]", depth + 1)
            if found:
                return found
    return None


def parse_query(req: func.HttpRequest, model: type[M]) -> M:
    return parse_model(model, dict(req.params), prefix="query.")
