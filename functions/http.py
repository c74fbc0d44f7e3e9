"""The HTTP edge: HttpRequest → tenant, principal and a validated body; errors → problem+json.

Every HTTP function is `@bp.route(...)` over `@endpoint(...)`; the handler receives a `Call` and
returns an HttpResponse (usually via `json_response`). Nothing a client sends can produce a 500:
domain errors become their problem, anything unexpected a logged 500 with a correlation id.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import quote

import azure.functions as func
import psycopg
from azure.core.exceptions import ServiceRequestError, ServiceResponseError
from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from functions.request_bodies import (
    MAX_BODY_BYTES,
    parse_json_body,
    parse_model,
    parse_query,
    unstorable_text,
)
from shared import auth, errors, log_redaction, telemetry, tenancy
from shared.auth import Principal
from shared.db import TRANSIENT_DATABASE_ERRORS
from shared.errors import ProblemError
from shared.logs import log_context, set_log_tenant
from shared.logs import tenant as log_tenant
from shared.tenants import TenantRecord

logger = logging.getLogger("stelly.http")

PROBLEM_JSON = "application/problem+json"
# W3C Trace Context, read as OpenTelemetry's propagator reads it, so the correlation id is always
# the trace the request's span joined: lower-case hex only (HEXDIGLC); a later version may carry
# more fields after the flags, version 00 may not; version ff and all-zero ids are invalid (an
# all-zero trace id would make one correlation id shared by unrelated requests).
_TRACEPARENT = re.compile(
    r"^[ \t]*(?!ff)([0-9a-f]{2})-(?!0{32})([0-9a-f]{32})-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}"
    r"(-.*)?[ \t]*$"
)
_CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


@dataclass(frozen=True)
class EndpointSpec:
    """What an endpoint expects; read by the OpenAPI generator as well as by the wrapper."""

    roles: tuple[str, ...] | None
    tenant: bool
    platform: bool
    body: type[BaseModel] | None
    responses: dict[int, type[BaseModel] | None] = field(default_factory=dict)
    summary: str = ""
    query: type[BaseModel] | None = None
    headers: tuple[str, ...] = ()
    # Headers answers carry beyond those the description infers (Location on 201/202,
    # Retry-After): by status.
    response_headers: dict[int, tuple[str, ...]] = field(default_factory=dict)
    # Successes carry the resource's version as ETag (a row, the profile, an order, a menu).
    etag: bool = False
    # Anonymous, but opened by an order's access token in Authorization: Bearer.
    order_access: bool = False
    # Served while the restaurant is suspended too: finishing orders placed before.
    while_suspended: bool = False


@dataclass
class Call:
    """One parsed request as a handler sees it."""

    req: func.HttpRequest
    correlation_id: str
    tenant: TenantRecord | None
    principal: Principal | None
    body: Any
    spec: EndpointSpec
    parsed_query: Any = None

    @property
    def route(self) -> Mapping[str, str]:
        return self.req.route_params

    @property
    def query(self) -> Mapping[str, str]:
        return self.req.params

    @property
    def path(self) -> str:
        return split_url(self.req.url).path

    def require_tenant(self) -> TenantRecord:
        assert self.tenant is not None, "endpoint declared without tenant=True"
        return self.tenant

    def require_principal(self) -> Principal:
        assert self.principal is not None, "endpoint declared without roles"
        return self.principal


class UrlParts(NamedTuple):
    scheme: str
    netloc: str
    path: str


def split_url(url: str) -> UrlParts:
    """A request URL's scheme, host[:port] and path, the host taken as it came.

    Not urlsplit: it refuses a bracketed host that is no IP address (`Host: [1:2]`), which
    Kestrel lets through, and the request would end as a 500 before the edge could answer.
    """
    scheme, _, rest = url.partition("://")
    cut = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    path = rest[cut:].split("?", 1)[0].split("#", 1)[0]
    return UrlParts(scheme, rest[:cut], path)


def correlation_id_from(headers: Mapping[str, str]) -> str:
    """x-correlation-id if well-formed, else the W3C trace id from traceparent, else a new id."""
    given = (headers.get("x-correlation-id") or "").strip()
    if _CORRELATION_ID.fullmatch(given):
        return given
    trace = _TRACEPARENT.match(headers.get("traceparent") or "")
    if trace and not (trace.group(1) == "00" and trace.group(3)):
        return trace.group(2)
    # Unique, not secret: random's generator instead of uuid4, whose os.urandom is a syscall
    # that drops the GIL and makes a busy worker thread wait to get it back.
    return f"{random.getrandbits(128):032x}"


def json_response(
    body: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> func.HttpResponse:
    payload = json.dumps(to_jsonable_python(body), separators=(",", ":"))
    return func.HttpResponse(
        payload, status_code=status, headers=dict(headers or {}), mimetype="application/json"
    )


def if_none_match(req: func.HttpRequest, etag: str) -> bool:
    """True when the client's If-None-Match already names etag (→ 304).

    By weak comparison, as RFC 9110 §13.1.2 asks for If-None-Match: `W/"x"` matches `"x"` (a
    CDN that compresses a response may pass its ETag on weakened).
    """
    given = req.headers.get("if-none-match")
    if not given:
        return False
    if given.strip() == "*":
        return True
    ours = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == ours for tag in given.split(","))


def cached_json_response(
    req: func.HttpRequest, payload: bytes, *, etag: str, cache_control: str
) -> func.HttpResponse:
    """200 with the bytes, or 304 when the client already has this ETag."""
    headers = {"ETag": etag, "Cache-Control": cache_control, "Vary": "Accept-Encoding"}
    if if_none_match(req, etag):
        return func.HttpResponse(status_code=304, headers=headers)
    return func.HttpResponse(payload, status_code=200, headers=headers, mimetype="application/json")


def problem_response(
    error: ProblemError, *, instance: str, correlation_id: str
) -> func.HttpResponse:
    body = error.body(instance=instance, correlation_id=correlation_id)
    # No cache keeps an error: Front Door holds an answer without Cache-Control for days on the
    # paths it caches, and 404/410 are cacheable by default, so a host that answered "no
    # restaurant here" before its restaurant existed would keep saying so.
    headers = {"Cache-Control": "no-store", **error.headers, "Content-Type": PROBLEM_JSON}
    return func.HttpResponse(
        json.dumps(body, default=str),
        status_code=error.status,
        headers=headers,
        mimetype=PROBLEM_JSON,
    )


def _declared_length(req: func.HttpRequest) -> int:
    try:
        return int(req.headers.get("content-length") or 0)
    except ValueError:
        return 0


def build_call(req: func.HttpRequest, correlation_id: str, spec: EndpointSpec) -> Call:
    # Order matters: an unknown host is a 404 before anyone is asked for a token.
    tenant: TenantRecord | None = None
    if spec.platform:
        host = tenancy.request_host(req.headers)
        if not tenancy.is_platform_host(host):
            raise errors.not_found("Platform operations are served on the platform host only")
    if spec.tenant:
        tenant = tenancy.resolve_tenant(req.headers, while_suspended=spec.while_suspended)
        set_log_tenant(tenant.slug)
    principal = None
    if spec.roles is not None:
        principal = auth.authenticate(req.headers, spec.roles, tenant.slug if tenant else None)
    unstorable = unstorable_text(dict(req.route_params), "route") or unstorable_text(
        dict(req.params), "query"
    )
    if unstorable:
        raise errors.validation_failed([unstorable])
    if _declared_length(req) > MAX_BODY_BYTES:
        raise errors.payload_too_large(MAX_BODY_BYTES)
    query = parse_query(req, spec.query) if spec.query is not None else None
    body = None
    if spec.body is not None:
        body = parse_model(spec.body, parse_json_body(req))
    return Call(req, correlation_id, tenant, principal, body, spec, query)


Handler = Callable[[Call], func.HttpResponse]
_INTERNAL = ProblemError(
    500,
    "Internal error",
    "Something failed on our side; quote the correlation id to support",
    "internal",
)


@dataclass
class Edge:
    """One request's bookkeeping at the edge; the wrapped handler sets `response`."""

    correlation_id: str
    instance: str
    response: func.HttpResponse | None = None


def _loggable_path(req: func.HttpRequest, path: str, secret_params: tuple[str, ...]) -> str:
    """path with the values of secret route parameters (a table's QR token is a capability to
    order to it) replaced by their names, for logs and spans."""
    secrets = {
        quote(value, safe=""): "{" + name + "}"
        for name in secret_params
        if (value := (req.route_params or {}).get(name))
    }
    if not secrets:
        return path
    # The last segment holding each value (route parameters follow the fixed part of a route):
    # a short bogus token ("v1") must not rewrite the route's own segments.
    segments = path.split("/")
    for i in reversed(range(len(segments))):
        if segments[i] in secrets:
            segments[i] = secrets.pop(segments[i])
    return "/".join(segments)


@contextmanager
def request_edge(
    req: func.HttpRequest, function_name: str, secret_params: tuple[str, ...] = ()
) -> Iterator[Edge]:
    """Correlation id, log context and span around a handler; errors become problem+json.

    The block sets `edge.response`; a ProblemError raised in it becomes its problem, anything
    else a logged 500 that reveals nothing but the correlation id. Then the access log line,
    which, like the span, names secret route parameters instead of showing them.
    """
    edge = Edge(correlation_id_from(req.headers), split_url(req.url).path)
    logged = _loggable_path(req, edge.instance, secret_params)
    started = time.perf_counter()
    with (
        log_context(correlation_id=edge.correlation_id, function=function_name, tenant=None),
        telemetry.http_server_span(
            f"{req.method} {function_name}",
            headers=req.headers,
            correlation_id=edge.correlation_id,
            method=req.method,
            path=logged,
        ) as span,
    ):
        try:
            yield edge
        except ProblemError as error:
            edge.response = problem_response(
                error, instance=edge.instance, correlation_id=edge.correlation_id
            )
        except (*TRANSIENT_DATABASE_ERRORS, ServiceRequestError, ServiceResponseError) as error:
            # Not the client's fault and worth retrying: a deadlock victim, a serialization
            # conflict, the database or storage unreachable, the pool exhausted.
            logger.warning("transient backend error in %s: %s", function_name, error)
            edge.response = problem_response(
                errors.service_unavailable("A backing service is busy; retry shortly", 1),
                instance=edge.instance,
                correlation_id=edge.correlation_id,
            )
        except psycopg.errors.CheckViolation as error:
            # Every value was validated before it reached SQL, so the database's own rule is
            # narrower than the app's: a restaurant the fleet migration has not reached yet
            # (tenant migration 0007 widened the price checks the app already allows).
            logger.warning("check %s refused a validated value in %s", error.diag.constraint_name,
                           function_name)  # fmt: skip
            edge.response = problem_response(
                errors.conflict(
                    "This restaurant's data does not take that value yet (its database update "
                    "is pending); try again later"
                ),
                instance=edge.instance,
                correlation_id=edge.correlation_id,
            )
        except Exception as error:
            logger.exception("unhandled error in %s", function_name)
            span.record_exception(error, attributes=log_redaction.span_attributes(error))
            edge.response = problem_response(
                _INTERNAL, instance=edge.instance, correlation_id=edge.correlation_id
            )
        response = edge.response
        assert response is not None, f"{function_name} returned no response"
        response.headers["x-correlation-id"] = edge.correlation_id
        # Refusals quote what was sent: no browser may read an answer as anything but its type.
        response.headers["x-content-type-options"] = "nosniff"
        telemetry.end_http_span(span, status=response.status_code, tenant=log_tenant.get())
        logger.info(
            "%s %s → %s",
            req.method,
            logged,
            response.status_code,
            extra={
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            },
        )


def mark_endpoint(wrapper: Any, handler: Callable[..., Any], spec: EndpointSpec) -> Any:
    """Give wrapper the handler's name and the spec (read by the OpenAPI generator).

    Not functools.wraps: the Functions worker reads the wrapper's own signature (req[, client]).
    """
    wrapper.__name__ = handler.__name__
    wrapper.__qualname__ = handler.__qualname__
    wrapper.__doc__ = handler.__doc__
    wrapper.__module__ = handler.__module__
    wrapper.endpoint_spec = spec
    return wrapper


def endpoint(
    *,
    tenant: bool = False,
    roles: tuple[str, ...] | None = None,
    platform: bool = False,
    body: type[BaseModel] | None = None,
    responses: dict[int, type[BaseModel] | None] | None = None,
    summary: str = "",
    query: type[BaseModel] | None = None,
    headers: tuple[str, ...] = (),
    secret_params: tuple[str, ...] = (),
    response_headers: dict[int, tuple[str, ...]] | None = None,
    etag: bool = False,
    order_access: bool = False,
    while_suspended: bool = False,
) -> Callable[[Handler], Callable[[func.HttpRequest], func.HttpResponse]]:
    """Wrap a handler with tenant resolution, auth, body parsing, problem+json and access logs.

    `responses` maps the statuses a handler returns itself to their body model (None: no body
    for 204/304, an undescribed JSON object otherwise, problem+json for errors); the statuses
    tenant, roles, body and query imply are documented without listing them. `query` is parsed
    into `call.parsed_query` (422 when invalid); `headers` names request headers the handler
    reads (If-Match, Idempotency-Key, ...) for the API description. `secret_params` names route
    parameters that are secrets, kept out of logs and spans; `response_headers` names headers
    answers carry that the description would not infer, by status; `etag` says successes carry
    the resource's version as ETag; `order_access` says the handler reads an order's access
    token from Authorization (for the API description); `while_suspended` serves a suspended
    restaurant too (its kitchen and customers finishing the orders already placed).
    """
    spec = EndpointSpec(
        roles, tenant, platform, body, responses or {}, summary, query, headers,
        response_headers or {}, etag, order_access, while_suspended,
    )  # fmt: skip

    def decorate(handler: Handler) -> Callable[[func.HttpRequest], func.HttpResponse]:
        def wrapper(req: func.HttpRequest) -> func.HttpResponse:
            with request_edge(req, handler.__name__, secret_params) as edge:
                edge.response = handler(build_call(req, edge.correlation_id, spec))
            return edge.response

        return mark_endpoint(wrapper, handler, spec)

    return decorate
