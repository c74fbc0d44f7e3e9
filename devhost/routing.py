"""HTTP routing as the Functions host does it: route templates, methods and the route prefix.

devhost's server and the test client share this router, so tests exercise exactly the routing
the local server uses. Quirks reproduced from the host (ASP.NET Core routing underneath):
- templates match case-insensitively and ignore a trailing slash;
- literal segments win over parameters, constrained parameters over plain ones, catch-alls last;
- `{p?}` is optional, `{p=default}` has a default, `{*rest}` swallows the remaining path;
- constraints `int`, `long`, `guid`, `bool`, `alpha`, `double`/`decimal`/`float` are checked,
  `int` and `long` for their range too (ASP.NET parses them: `{n:int}` does not match
  99999999999, so the route is not found, and a handler never sees a number it cannot store);
  others (`minlength(3)`, `regex(...)`) are accepted without checking (documented difference);
- a route with no template is served at `<prefix>/<function name>`;
- `req.params` holds the query string; a repeated key's values are joined with "," (as the host
  hands ASP.NET Core's StringValues over), and so are a repeated header's.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import azure.functions as func

# ASCII digits only ([0-9], not \d): .NET's TryParse with the invariant culture takes no other
# script's digits, so `/versions/` + U+0661 (Arabic-Indic one) is no route on Azure, and must not
# be one here.
_CONSTRAINTS = {
    "int": r"-?[0-9]+",
    "long": r"-?[0-9]+",
    "guid": r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}",
    "bool": r"(?i:true|false)",
    "alpha": r"[A-Za-z]+",
    "double": r"-?[0-9]+(?:\.[0-9]+)?",
    "decimal": r"-?[0-9]+(?:\.[0-9]+)?",
    "float": r"-?[0-9]+(?:\.[0-9]+)?",
}
# What `int.TryParse` / `long.TryParse` accept; a number outside is no match.
_RANGES = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
_TOKEN = re.compile(r"\{([^{}]+)\}")
# Distinct (method, path) pairs remembered by Router.match before it starts over.
MATCH_CACHE_SIZE = 4096
ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class Parameter:
    name: str
    pattern: str
    optional: bool
    default: str | None
    catch_all: bool
    constrained: bool
    bounds: tuple[int, int] | None = None

    def admits(self, value: str | None) -> bool:
        """False when the constraint is a number type the matched digits overflow."""
        if self.bounds is None or value is None:
            return True
        low, high = self.bounds
        return low <= int(value) <= high


def _parse_token(token: str) -> Parameter:
    catch_all = token.startswith("*")
    token = token.lstrip("*")
    default = None
    if "=" in token:
        token, default = token.split("=", 1)
    optional = token.endswith("?") or default is not None
    token = token.rstrip("?")
    name, *constraints = token.split(":")
    pattern = ".*" if catch_all else "[^/]+"
    known = [c for c in constraints if c in _CONSTRAINTS]
    if known:
        pattern = _CONSTRAINTS[known[0]]
    bounds = _RANGES.get(known[0]) if known else None
    return Parameter(
        name, pattern, optional or catch_all, default, catch_all, bool(constraints), bounds
    )


@dataclass
class HttpRoute:
    """One httpTrigger function as the router sees it."""

    function_name: str
    template: str
    methods: frozenset[str]
    regex: re.Pattern[str]
    parameters: tuple[Parameter, ...]
    rank: tuple[int, ...]
    user_function: Callable[..., Any]
    request_arg: str
    durable_client_arg: str | None
    is_async: bool = field(init=False)

    def __post_init__(self) -> None:
        self.is_async = inspect.iscoroutinefunction(self.user_function)


def _segment_rank(segment: str, params: list[Parameter]) -> int:
    if not _TOKEN.search(segment):
        return 0
    if any(p.catch_all for p in params):
        return 4
    if any(p.optional for p in params):
        return 3
    return 1 if all(p.constrained for p in params) else 2


def compile_template(
    template: str,
) -> tuple[re.Pattern[str], tuple[Parameter, ...], tuple[int, ...]]:
    """Route template → (regex over the path without leading slash, parameters, precedence)."""
    pieces: list[str] = []
    parameters: list[Parameter] = []
    rank: list[int] = []
    for segment in [s for s in template.strip("/").split("/") if s]:
        seg_params: list[Parameter] = []
        regex, last = "", 0
        for match in _TOKEN.finditer(segment):
            regex += re.escape(segment[last : match.start()])
            param = _parse_token(match.group(1))
            seg_params.append(param)
            regex += f"(?P<{param.name}>{param.pattern})"
            last = match.end()
        regex += re.escape(segment[last:])
        lone_optional = len(seg_params) == 1 and seg_params[0].optional and regex.startswith("(?P")
        pieces.append(f"(?:/{regex})?" if lone_optional else f"/{regex}")
        parameters.extend(seg_params)
        rank.append(_segment_rank(segment, seg_params))
    return re.compile("".join(pieces) + "/?", re.IGNORECASE), tuple(parameters), tuple(rank)


class RouteNotFound(LookupError):
    pass


class MethodNotAllowed(LookupError):
    def __init__(self, allowed: Iterable[str]) -> None:
        super().__init__("method not allowed")
        self.allowed = sorted(set(allowed))


@dataclass
class RouteMatch:
    route: HttpRoute
    params: dict[str, str]


def _http_routes(functions: Iterable[Any], prefix: str) -> list[HttpRoute]:
    routes = []
    for fn in functions:
        if fn.get_trigger().get_binding_name() != "httpTrigger":
            continue
        bindings = json.loads(fn.get_function_json())["bindings"]
        trigger = next(b for b in bindings if b["type"] == "httpTrigger")
        durable = next((b for b in bindings if b["type"] == "durableClient"), None)
        template = trigger.get("route") or fn.get_function_name()
        full = "/".join(p for p in (prefix.strip("/"), template.strip("/")) if p)
        regex, params, rank = compile_template(full)
        methods = frozenset(m.upper() for m in (trigger.get("methods") or ALL_METHODS))
        routes.append(
            HttpRoute(
                function_name=fn.get_function_name(),
                template=full,
                methods=methods,
                regex=regex,
                parameters=params,
                rank=rank,
                user_function=fn.get_user_function(),
                request_arg=trigger["name"],
                durable_client_arg=durable["name"] if durable else None,
            )
        )
    # Precedence: compare segment by segment (literal < constrained < plain < optional < *),
    # then prefer longer templates.
    routes.sort(key=lambda r: (r.rank, -len(r.rank)))
    return routes


class Router:
    """Matches (method, path) to an httpTrigger function and calls it with a func.HttpRequest."""

    def __init__(
        self,
        functions: Iterable[Any],
        *,
        route_prefix: str = "api",
        durable_client_json: Callable[[], str] | None = None,
    ) -> None:
        self.route_prefix = route_prefix
        self.routes = _http_routes(functions, route_prefix)
        self._durable_client_json = durable_client_json
        # Matching walks every route's regex; a hot path repeats, so remember recent answers.
        self._matches: dict[tuple[str, str], RouteMatch] = {}

    def match(self, method: str, path: str) -> RouteMatch:
        """The route for method and path, or RouteNotFound / MethodNotAllowed."""
        key = (method, path)
        found = self._matches.get(key)
        if found is None:
            found = self._match(method, path)  # 404/405 raise and are not remembered
            if len(self._matches) >= MATCH_CACHE_SIZE:
                self._matches.clear()
            self._matches[key] = found
        return found

    def _match(self, method: str, path: str) -> RouteMatch:
        allowed: set[str] = set()
        path = "/" + path.strip("/")
        for route in self.routes:
            found = route.regex.fullmatch(path)
            if not found or not all(p.admits(found.group(p.name)) for p in route.parameters):
                continue
            if method.upper() not in route.methods:
                allowed |= route.methods
                continue
            params = {
                p.name: found.group(p.name) or p.default
                for p in route.parameters
                if found.group(p.name) or p.default is not None
            }
            return RouteMatch(route, params)
        if allowed:
            raise MethodNotAllowed(allowed)
        raise RouteNotFound(path)

    def _arguments(self, route: HttpRoute, req: func.HttpRequest) -> dict[str, Any]:
        kwargs: dict[str, Any] = {route.request_arg: req}
        if route.durable_client_arg:
            if self._durable_client_json is None:
                raise RuntimeError(f"{route.function_name} needs a durable client; none is running")
            kwargs[route.durable_client_arg] = self._durable_client_json()
        return kwargs

    async def call_async(self, found: RouteMatch, req: func.HttpRequest) -> func.HttpResponse:
        """Await an async function (sync ones belong in call_sync, off the event loop)."""
        return _as_response(await found.route.user_function(**self._arguments(found.route, req)))

    def call_sync(self, found: RouteMatch, req: func.HttpRequest) -> func.HttpResponse:
        """Call the function in this thread; async functions get their own event loop."""
        result = found.route.user_function(**self._arguments(found.route, req))
        # isinstance first: inspect.isawaitable is slow, and nearly every result is a response.
        if isinstance(result, func.HttpResponse):
            return result
        if inspect.isawaitable(result):
            result = asyncio.run(_await(result))
        return _as_response(result)


def _as_response(result: Any) -> func.HttpResponse:
    """A str return is the body of a 200, as the Python worker's HTTP converter encodes it."""
    return func.HttpResponse(result) if isinstance(result, str) else result


async def _await(awaitable: Any) -> Any:
    return await awaitable


def build_request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    body: bytes,
    route_params: Mapping[str, str],
    query: str | None = None,
) -> func.HttpRequest:
    """A func.HttpRequest as the host builds it (params parsed from the URL: the SDK does not).

    `query` is the raw query string when the caller already has it (saves re-splitting the URL).
    """
    if query is None:
        # Not urlsplit: it refuses a bracketed Host that is no IP address, which Kestrel allows.
        query = url.partition("?")[2].partition("#")[0]
    params: dict[str, str] = {}
    if query:
        # As the host: a repeated key's values joined with "," (StringValues.ToString(), which
        # skips empty ones: `a=&a=2` is "2"), and a key left with no value is left out
        # (ToRpcHttp; the Python worker reads no nullable query dictionary).
        for key, value in parse_qsl(query):
            params[key] = f"{params[key]},{value}" if key in params else value
    return func.HttpRequest(
        method=method.upper(),
        url=url,
        headers=headers,
        params=params,
        route_params=dict(route_params),
        body=body,
    )


def problem_document(status: int, title: str, detail: str, instance: str) -> bytes:
    """problem+json for the router's own answers (404/405/504) before any function runs."""
    slug = title.lower().replace(" ", "-")
    body = {
        "type": f"https://stelly.dev/problems/{slug}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    return json.dumps(body).encode()
