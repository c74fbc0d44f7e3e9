"""The app's HTTP route table as the API description needs it: functions, methods, parameters."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from functions.http import EndpointSpec

# What the host serves when an httpTrigger names no methods (devhost/routing.py does the same).
ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_TOKEN = re.compile(r"\{([^{}]+)\}")
# Route constraints the host checks, as JSON Schema.
_CONSTRAINT_SCHEMAS: dict[str, dict[str, Any]] = {
    "guid": {"type": "string", "format": "uuid"},
    "int": {"type": "integer", "format": "int32"},
    "long": {"type": "integer", "format": "int64"},
    "bool": {"type": "boolean"},
    "alpha": {"type": "string", "pattern": "^[A-Za-z]+$"},
    "double": {"type": "number"},
    "decimal": {"type": "number"},
    "float": {"type": "number"},
}
# An unconstrained parameter is one path segment: a slash would make it another route.
_SEGMENT = {"type": "string", "minLength": 1, "pattern": "^[^/]+$"}


@dataclass(frozen=True)
class HttpOperation:
    """One httpTrigger function as the host serves it."""

    function_name: str
    route: str
    methods: tuple[str, ...]
    handler: Callable[..., Any]
    spec: EndpointSpec | None


def endpoint_spec_of(handler: Callable[..., Any]) -> EndpointSpec | None:
    """The spec `@endpoint` attached, looking through wrappers (durable client starters)."""
    seen: Any = handler
    while seen is not None:
        spec = getattr(seen, "endpoint_spec", None)
        if isinstance(spec, EndpointSpec):
            return spec
        seen = getattr(seen, "__wrapped__", None)
    return None


def http_operations(app: Any) -> list[HttpOperation]:
    """Every httpTrigger function of app, without calling `app.get_functions()`.

    The host calls get_functions() once per app object, so this reads the function builders;
    `build()` is idempotent (it only fills in the default route and auth level).
    """
    found = []
    for builder in app._function_builders:
        function = builder.build(app.auth_level)
        bindings = json.loads(function.get_function_json())["bindings"]
        trigger = next((b for b in bindings if b["type"] == "httpTrigger"), None)
        if trigger is None:
            continue
        handler = function.get_user_function()
        found.append(
            HttpOperation(
                function_name=function.get_function_name(),
                route=(trigger.get("route") or function.get_function_name()).strip("/"),
                methods=tuple(m.upper() for m in trigger.get("methods") or ALL_METHODS),
                handler=handler,
                spec=endpoint_spec_of(handler),
            )
        )
    return sorted(found, key=lambda operation: (operation.route, operation.function_name))


def route_prefix(app_dir: Path) -> str:
    """host.json's extensions.http.routePrefix (`api` when unset, as the host defaults)."""
    try:
        host = json.loads((app_dir / "host.json").read_text())
    except FileNotFoundError:
        return "api"
    return host.get("extensions", {}).get("http", {}).get("routePrefix", "api").strip("/")


def openapi_path(route: str) -> str:
    """A route template as an OpenAPI path under the server URL: `{id:guid}` → `{id}`."""
    return "/" + re.sub(r"\{\*?([A-Za-z_]\w*)[^}]*\}", r"{\1}", route.strip("/"))


def has_path_parameters(route: str) -> bool:
    """True when the route template has a `{parameter}`."""
    return bool(_TOKEN.search(route))


def path_parameters(route: str) -> list[dict[str, Any]]:
    """`in: path` parameters of a route template, typed by their constraints."""
    parameters = []
    for token in _TOKEN.findall(route):
        name, *constraints = token.lstrip("*").split("=")[0].rstrip("?").split(":")
        schema = next(
            (_CONSTRAINT_SCHEMAS[c] for c in constraints if c in _CONSTRAINT_SCHEMAS), _SEGMENT
        )
        parameters.append({"name": name, "in": "path", "required": True, "schema": dict(schema)})
    return parameters
