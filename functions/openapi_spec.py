"""The OpenAPI 3.1 description of the app, built from its route table and endpoint specs.

Nothing is written twice: paths and methods come from the httpTrigger bindings, parameters from
route templates and `query` models, bodies and responses from the pydantic models that
`@endpoint(...)` declares, and error answers from what the endpoint's spec implies (a body can
be malformed, a role can be missing, a host can name no restaurant).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from http import HTTPStatus
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

import shared
from functions.http import PROBLEM_JSON, EndpointSpec
from functions.openapi_routes import (
    HttpOperation,
    http_operations,
    openapi_path,
    path_parameters,
    route_prefix,
)
from functions.openapi_statuses import Problem, header_parameters, implied_statuses
from shared.auth import ROLES

OPENAPI_VERSION = "3.1.0"
REF_TEMPLATE = "#/components/schemas/{model}"
PROBLEM_REF = {"$ref": REF_TEMPLATE.format(model="Problem")}
# Answers that never carry a body.
BODILESS = {204, 304}
TAGS = {
    "store": "Storefront: anonymous customers of the restaurant named by the host.",
    "admin": "Restaurant administration: owner and manager tokens of the host's restaurant.",
    "kitchen": "Kitchen displays: staff tokens of the host's restaurant.",
    "platform": "Platform operations, on the platform host only: platform_admin tokens.",
    "system": "Health and this description; any host, no token.",
}

ModelKey = tuple[type[BaseModel], JsonSchemaMode]


def _collect_models(operations: Iterable[HttpOperation]) -> list[ModelKey]:
    """Request models in validation mode, response models as serialised, and Problem."""
    wanted: dict[ModelKey, None] = {(Problem, "validation"): None}
    for operation in operations:
        spec = operation.spec
        if spec is None:
            continue
        for model in (spec.body, spec.query):
            if model is not None:
                wanted[(model, "validation")] = None
        for model in spec.responses.values():
            if model is not None:
                wanted[(model, "serialization")] = None
    return list(wanted)


def _schema_refs(
    operations: list[HttpOperation],
) -> tuple[dict[ModelKey, dict[str, Any]], dict[str, Any]]:
    """Each model's `$ref` and every schema they need, for components/schemas."""
    refs, document = models_json_schema(_collect_models(operations), ref_template=REF_TEMPLATE)
    return dict(refs), document.get("$defs", {})


def _query_parameters(schema: dict[str, Any], components: dict[str, Any]) -> list[dict]:
    """A query model's fields as `in: query` parameters (the model itself is not sent)."""
    name = schema["$ref"].rsplit("/", 1)[-1]
    model_schema = components[name]
    required = set(model_schema.get("required", ()))
    parameters = []
    for field, field_schema in model_schema.get("properties", {}).items():
        parameter = {"name": field, "in": "query", "required": field in required}
        if "description" in field_schema:
            parameter["description"] = field_schema["description"]
        parameters.append({**parameter, "schema": _without_null(field_schema)})
    return parameters


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """`X | None = None` as a query parameter is just an optional X: a URL cannot send null."""
    branches = schema.get("anyOf", [])
    others = [branch for branch in branches if branch != {"type": "null"}]
    if len(branches) != 2 or len(others) != 1:
        return schema
    rest = {k: v for k, v in schema.items() if k != "anyOf" and not (k == "default" and v is None)}
    return {**rest, **others[0]}


# Response headers a client acts on, by the answers that may carry them.
_RETRY_STATUSES = frozenset({409, 429, 503})


def _header(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/headers/{name}"}


# What an endpoint's `response_headers` may name, and their components.
_DECLARABLE = {
    "ETag": "ETag",
    "Location": "Location",
    "Retry-After": "RetryAfter",
    "Idempotent-Replayed": "IdempotentReplayed",
}


def _response(
    status: int, content: dict[str, Any], *, versioned: bool = False, extra: tuple[str, ...] = ()
) -> dict[str, Any]:
    """An answer with the headers it may carry: always x-correlation-id; Location on 201/202;
    ETag on a success of an endpoint declared `etag`; Retry-After where retrying
    later may succeed; and those the endpoint declares for this status (`extra`)."""
    headers = {"x-correlation-id": _header("CorrelationId")}
    for name in extra:
        headers[name] = _header(_DECLARABLE[name])
    if status in (201, 202):
        headers["Location"] = _header("Location")
    if versioned and status in (200, 201, 304):
        headers["ETag"] = _header("ETag")
    if status in _RETRY_STATUSES:
        headers["Retry-After"] = _header("RetryAfter")
    if status == 401:
        headers["WWW-Authenticate"] = _header("WWWAuthenticate")
    answer: dict[str, Any] = {"description": HTTPStatus(status).phrase, "headers": headers}
    if content:
        answer["content"] = content
    return answer


def _problem_ref(status: int) -> dict[str, str]:
    return {"$ref": f"#/components/responses/Problem{status}"}


def _shared_responses(paths: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """components/responses for every problem-only answer the operations refer to."""
    statuses = {
        int(ref["$ref"].removeprefix("#/components/responses/Problem"))
        for item in paths.values()
        for operation in item.values()
        for ref in operation["responses"].values()
        if "$ref" in ref
    }
    problem = {PROBLEM_JSON: {"schema": PROBLEM_REF}}
    return {f"Problem{status}": _response(status, problem) for status in sorted(statuses)}


def _responses(operation: HttpOperation, refs: dict[ModelKey, dict[str, Any]]) -> dict[str, Any]:
    spec = operation.spec
    assert spec is not None
    content: dict[int, dict[str, Any]] = {}
    declared = dict(spec.responses)
    if not any(status < 400 for status in declared):
        declared[200] = None
    for status, model in declared.items():
        if status in BODILESS:
            content[status] = {}
        elif model is not None:
            schema = refs[(model, "serialization")]
            content[status] = {"application/json": {"schema": schema}}
        elif status >= 400:
            content[status] = {PROBLEM_JSON: {"schema": PROBLEM_REF}}
        else:
            content[status] = {"application/json": {"schema": {"type": "object"}}}
    for status in implied_statuses(spec, operation.route, operation.methods):
        if status in BODILESS:
            content.setdefault(status, {})
        else:
            content.setdefault(status, {})[PROBLEM_JSON] = {"schema": PROBLEM_REF}
    problem_only = {PROBLEM_JSON: {"schema": PROBLEM_REF}}
    versioned = spec.etag
    return {
        str(status): _problem_ref(status)
        if content[status] == problem_only
        else _response(
            status,
            content[status],
            versioned=versioned,
            extra=spec.response_headers.get(status, ()),
        )
        for status in sorted(content)
    }


def _description(operation: HttpOperation) -> str:
    spec = operation.spec
    parts = [inspect.getdoc(operation.handler) or ""]
    if spec is not None and spec.roles is not None:
        where = " of the host's restaurant" if spec.tenant else ""
        parts.append(f"Token roles: {', '.join(spec.roles)}{where}.")
    if spec is not None and spec.while_suspended:
        parts.append("Served while the restaurant is suspended: orders placed before are finished.")
    return "\n\n".join(part for part in parts if part)


def _tag(route: str) -> str:
    parts = route.strip("/").split("/")
    return parts[1] if len(parts) > 1 and parts[0] == "v1" and parts[1] in TAGS else "system"


def _operation(
    operation: HttpOperation,
    method: str,
    refs: dict[ModelKey, dict[str, Any]],
    components: dict[str, Any],
) -> dict[str, Any]:
    spec = operation.spec
    operation_id = operation.function_name
    if len(operation.methods) > 1:
        operation_id += "_" + method.lower()
    document: dict[str, Any] = {"operationId": operation_id, "tags": [_tag(operation.route)]}
    first_line = (inspect.getdoc(operation.handler) or "").split("\n", 1)[0]
    document["summary"] = (spec.summary if spec else "") or first_line or operation.function_name
    description = _description(operation)
    if description:
        document["description"] = description
    parameters = path_parameters(operation.route)
    if spec is None:
        # Not behind @endpoint (e.g. a durable client starter): the route is all we know.
        document["responses"] = {"default": {"description": "Defined by the function"}}
        if parameters:
            document["parameters"] = parameters
        return document
    if spec.query is not None:
        parameters += _query_parameters(refs[(spec.query, "validation")], components)
    parameters += header_parameters(spec.headers)
    if parameters:
        document["parameters"] = parameters
    if spec.body is not None:
        schema = refs[(spec.body, "validation")]
        document["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    document["responses"] = _responses(operation, refs)
    document["security"] = _security(spec)
    document["x-stelly-host"] = "platform" if spec.platform else "tenant" if spec.tenant else "any"
    return document


def _security(spec: EndpointSpec) -> list[dict[str, list[str]]]:
    if spec.roles is not None:
        return [{"bearerAuth": []}]
    return [{"orderAccessToken": []}] if spec.order_access else []


def build_document(app: Any, *, app_dir: Path) -> dict[str, Any]:
    """The whole OpenAPI 3.1 document for app (whose host.json is in app_dir)."""
    operations = http_operations(app)
    prefix = route_prefix(app_dir)
    refs, components = _schema_refs(operations)
    paths: dict[str, dict[str, Any]] = {}
    for operation in operations:
        item = paths.setdefault(openapi_path(operation.route), {})
        for method in operation.methods:
            item[method.lower()] = _operation(operation, method, refs, components)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Stelly",
            "version": shared.__version__,
            "description": (
                "Multi-tenant restaurant ordering. The restaurant is the request's host "
                "(`x-stelly-host: tenant`); platform operations answer on the platform host "
                "only. Every error is `application/problem+json` with a correlation id."
            ),
        },
        "servers": [{"url": f"/{prefix}" if prefix else "/", "description": "this host"}],
        "tags": [{"name": name, "description": text} for name, text in TAGS.items()],
        "paths": paths,
        "components": {
            "schemas": components,
            "responses": _shared_responses(paths),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": (
                        f"A JWT from the configured issuer with a `roles` claim "
                        f"({', '.join(ROLES)}) and, for restaurant roles, a `tenant` claim "
                        "naming the restaurant."
                    ),
                },
                "orderAccessToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": (
                        "The `access_token` of the order's receipt. Only as Authorization: "
                        "a token in the URL is refused with 400, since URLs end up in logs."
                    ),
                },
            },
            "headers": {
                "CorrelationId": {
                    "description": "Quote it to support; it is in every log line of the call.",
                    "schema": {"type": "string"},
                },
                "ETag": {
                    "description": (
                        'The version of the one resource answered (`"3"`; a hash for the store '
                        "menu and config), to send back in If-Match or If-None-Match."
                    ),
                    "schema": {"type": "string"},
                },
                "Location": {
                    "description": "Where the created row, or the running operation, is read.",
                    "schema": {"type": "string"},
                },
                "RetryAfter": {
                    "description": "Seconds to wait before trying again.",
                    "schema": {"type": "integer", "minimum": 0},
                },
                "IdempotentReplayed": {
                    "description": (
                        "`true` on the stored first answer to a repeated Idempotency-Key: no "
                        "new order was placed. Absent on the first answer."
                    ),
                    "schema": {"type": "string", "enum": ["true"]},
                },
                "WWWAuthenticate": {
                    "description": (
                        '`Bearer error="invalid_token", error_description="<why>"` (RFC '
                        "6750): fetch a new token, or send one."
                    ),
                    "schema": {"type": "string"},
                },
            },
        },
    }
